//! The simulator's agenda: a min-heap of timed events, ties broken by insertion order so that a
//! run is the same on every machine.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What happens at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A request in service on `pod` (slot `slot`, the slot's `token`th use) finishes.
    Done { pod: u32, slot: u32, token: u32 },
    /// The client of the request in `slot` on `pod` gives up (its timeout passed).
    ClientTimeout { pod: u32, slot: u32, token: u32 },
    /// `pod` finishes its current lifecycle phase.
    PodPhase { pod: u32 },
    /// `pod`'s termination grace period ends; whatever it still serves fails.
    GraceEnd { pod: u32 },
    /// A node finishes provisioning.
    NodeUp { node: u32 },
    /// The autoscaler's sync.
    PolicyTick,
    /// The cluster autoscaler's scan.
    ClusterScan,
    /// A one-second metrics sample.
    Sample,
    /// A timeline window closes.
    Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    t: u64,
    seq: u64,
    ev: Event,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.t, other.seq).cmp(&(self.t, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Timed events, earliest first, FIFO among equal times.
#[derive(Debug, Default)]
pub(crate) struct Agenda {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Agenda {
    /// Schedules `ev` at `t` nanoseconds.
    #[inline]
    pub(crate) fn push(&mut self, t: u64, ev: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            t,
            seq: self.seq,
            ev,
        });
    }

    /// The time of the next event.
    #[inline]
    pub(crate) fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.t)
    }

    /// Removes and returns the next event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|e| (e.t, e.ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
