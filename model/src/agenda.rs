//! The agenda: timed events in time order, ties broken by insertion order so that a run is the
//! same on every machine. The simulator steps the model from one in virtual time, the testbed from
//! one on the real clock; both put the model's timers ([`crate::Timer`]) and their own events on it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Slot width: 2^20 ns, about a millisecond.
const SLOT_BITS: u32 = 20;
/// Slots in the wheel: a horizon of about 4 s; later events wait in a heap.
const SLOTS: u64 = 1 << 12;

/// A far-future event, ordered earliest first for [`BinaryHeap`] (by key only: keys are unique).
#[derive(Debug, Clone, Copy)]
struct Far<E> {
    key: u128,
    ev: E,
}

impl<E> PartialEq for Far<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Far<E> {}

impl<E> Ord for Far<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

impl<E> PartialOrd for Far<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Timed events, earliest first, FIFO among equal times.
///
/// A timing wheel of millisecond slots covers the next ~4 s, where almost every event of a
/// run falls (completions, timeouts, phases); later events wait in a binary heap and move into
/// the wheel as it turns. Each event's key is its time in the high 64 bits and its insertion
/// sequence in the low ones, so the order is exact, not rounded to a slot. Push and pop are
/// O(1) for the wheel: a binary heap's log-depth sifts with unpredictable branches were the
/// simulator's largest cost.
#[derive(Debug)]
pub struct Agenda<E> {
    slots: Vec<Vec<(u128, E)>>,
    /// The slot number (t >> SLOT_BITS) being served; wheel entries are in [cur, cur + SLOTS).
    cur: u64,
    in_wheel: usize,
    far: BinaryHeap<Far<E>>,
    seq: u64,
}

impl<E: Copy> Default for Agenda<E> {
    fn default() -> Self {
        Agenda {
            slots: vec![Vec::new(); SLOTS as usize],
            cur: 0,
            in_wheel: 0,
            far: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E: Copy> Agenda<E> {
    /// Schedules `ev` at `t` nanoseconds (not before the last event popped).
    #[inline]
    pub fn push(&mut self, t: u64, ev: E) {
        self.seq += 1;
        let key = (t as u128) << 64 | self.seq as u128;
        let slot = (t >> SLOT_BITS).max(self.cur);
        if slot < self.cur + SLOTS {
            self.slots[(slot % SLOTS) as usize].push((key, ev));
            self.in_wheel += 1;
        } else {
            self.far.push(Far { key, ev });
        }
    }

    /// Moves far events that the wheel now covers into it.
    fn migrate(&mut self) {
        while let Some(f) = self.far.peek() {
            let slot = (f.key >> (64 + SLOT_BITS)) as u64;
            if slot >= self.cur + SLOTS {
                break;
            }
            let Far { key, ev } = *f;
            self.far.pop();
            self.slots[(slot.max(self.cur) % SLOTS) as usize].push((key, ev));
            self.in_wheel += 1;
        }
    }

    /// Turns the wheel to the slot of the next event; false when there is none. Events pushed
    /// later for earlier slots land in this slot (see `push`), whose full keys keep them in order.
    #[inline]
    fn turn(&mut self) -> bool {
        loop {
            if self.in_wheel == 0 {
                let Some(next) = self.far.peek() else {
                    return false;
                };
                self.cur = (next.key >> (64 + SLOT_BITS)) as u64;
                self.migrate();
                continue;
            }
            if !self.slots[(self.cur % SLOTS) as usize].is_empty() {
                return true;
            }
            self.cur += 1;
            self.migrate();
        }
    }

    /// The position of the earliest event in the current slot.
    #[inline]
    fn earliest(&self) -> usize {
        let slot = &self.slots[(self.cur % SLOTS) as usize];
        let mut best = 0;
        for i in 1..slot.len() {
            if slot[i].0 < slot[best].0 {
                best = i;
            }
        }
        best
    }

    /// The time of the next event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<u64> {
        if !self.turn() {
            return None;
        }
        let i = self.earliest();
        Some((self.slots[(self.cur % SLOTS) as usize][i].0 >> 64) as u64)
    }

    /// Removes and returns the next event and its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        if !self.turn() {
            return None;
        }
        let i = self.earliest();
        let (key, ev) = self.slots[(self.cur % SLOTS) as usize].swap_remove(i);
        self.in_wheel -= 1;
        Some(((key >> 64) as u64, ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Event {
        Sample,
        Window,
        PolicyTick,
        ClusterScan,
        NodeUp { node: u32 },
    }

    #[test]
    fn earliest_first_and_fifo_among_ties() {
        let mut a = Agenda::default();
        a.push(5, Event::Sample);
        a.push(1, Event::Window);
        a.push(5, Event::PolicyTick);
        a.push(3, Event::ClusterScan);
        let order: Vec<_> = std::iter::from_fn(|| a.pop()).collect();
        assert_eq!(
            order,
            vec![
                (1, Event::Window),
                (3, Event::ClusterScan),
                (5, Event::Sample),
                (5, Event::PolicyTick)
            ]
        );
    }

    #[test]
    fn matches_a_sorted_reference_across_the_horizon() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut a = Agenda::default();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        let mut seq = 0u64;
        let mut popped = Vec::new();
        for round in 0..20_000 {
            // Mostly near events, some far beyond the wheel's horizon, some at the same instant.
            for _ in 0..rng.random_range(0..3u32) {
                let dt = match rng.random_range(0..10u32) {
                    0 => rng.random_range(0..100_000_000_000u64),
                    1 => 0,
                    _ => rng.random_range(0..50_000_000u64),
                };
                seq += 1;
                a.push(now + dt, Event::NodeUp { node: seq as u32 });
                reference.push((now + dt, seq));
            }
            if round % 3 != 0
                && let Some((t, ev)) = a.pop()
            {
                now = t;
                popped.push((t, ev));
            }
        }
        while let Some(x) = a.pop() {
            popped.push(x);
        }
        reference.sort_unstable();
        let expected: Vec<_> = reference
            .into_iter()
            .map(|(t, s)| (t, Event::NodeUp { node: s as u32 }))
            .collect();
        // Popping interleaved with pushing must still give every event in (time, FIFO) order
        // among the events present, which for this schedule is the global sorted order only if
        // no push lands before an earlier pop; check the weaker, exact invariants instead.
        assert_eq!(popped.len(), expected.len());
        assert!(
            popped.windows(2).all(|w| w[0].0 <= w[1].0),
            "times never go backwards"
        );
        let mut sorted = popped.clone();
        sorted.sort_by_key(|(t, ev)| match ev {
            Event::NodeUp { node } => (*t, *node),
            _ => (*t, 0),
        });
        assert_eq!(
            sorted, expected,
            "every event comes out exactly once, at its time"
        );
        assert_eq!(popped, sorted, "ties come out in insertion order");
    }
}
