//! The router's bounded wait queue: FIFO within a priority, higher priorities served first, and
//! when it is full the lowest priority is shed first.

use std::collections::VecDeque;

use crate::Request;

/// What happened to a request offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Offer<W> {
    /// It waits.
    Queued,
    /// The queue was full and nothing of lower priority could make room: it is rejected.
    Rejected(W),
    /// It waits, and this lower-priority request was shed to make room.
    Shed(W),
}

/// Requests waiting, grouped by priority level (index 0 = highest).
#[derive(Debug)]
pub(crate) struct WaitQueue<W> {
    levels: Vec<VecDeque<W>>,
    /// Priority level of each class.
    level_of_class: Vec<usize>,
    len: usize,
    capacity: usize,
}

impl<W: Request> WaitQueue<W> {
    /// A queue holding at most `capacity` requests; `class_priority[c]` is class c's priority.
    pub(crate) fn new(capacity: usize, class_priority: &[u8]) -> Self {
        let mut prios: Vec<u8> = class_priority.to_vec();
        prios.sort_unstable_by(|a, b| b.cmp(a));
        prios.dedup();
        if prios.is_empty() {
            prios.push(0);
        }
        let level_of_class = class_priority
            .iter()
            .map(|p| prios.iter().position(|q| q == p).unwrap_or(0))
            .collect();
        WaitQueue {
            levels: (0..prios.len()).map(|_| VecDeque::new()).collect(),
            level_of_class,
            len: 0,
            capacity,
        }
    }

    #[inline]
    fn level(&self, class: u16) -> usize {
        // A class the plan does not know waits behind every known one.
        self.level_of_class
            .get(class as usize)
            .copied()
            .unwrap_or(self.levels.len() - 1)
    }

    /// Requests waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when nothing waits.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offers a request.
    pub(crate) fn offer(&mut self, w: W) -> Offer<W> {
        let level = self.level(w.class());
        if self.len < self.capacity {
            self.levels[level].push_back(w);
            self.len += 1;
            return Offer::Queued;
        }
        // Full: shed the newest request of the lowest priority below this one, if any.
        for victim_level in (level + 1..self.levels.len()).rev() {
            if let Some(victim) = self.levels[victim_level].pop_back() {
                self.levels[level].push_back(w);
                return Offer::Shed(victim);
            }
        }
        Offer::Rejected(w)
    }

    /// Takes the next request to serve: the oldest of the highest priority.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<W> {
        for q in &mut self.levels {
            if let Some(w) = q.pop_front() {
                self.len -= 1;
                return Some(w);
            }
        }
        None
    }

    /// Removes requests whose intended time is at or before `cutoff` (their clients have given
    /// up) from the head of each level, calling `f` on each.
    pub(crate) fn expire(&mut self, cutoff: u64, mut f: impl FnMut(W)) {
        for q in &mut self.levels {
            while q.front().is_some_and(|w| w.intended() <= cutoff) {
                if let Some(w) = q.pop_front() {
                    self.len -= 1;
                    f(w);
                }
            }
        }
    }

    /// Removes the requests nobody waits for any more, wherever they are, calling `f` on each.
    pub(crate) fn prune(&mut self, mut f: impl FnMut(W)) {
        for q in &mut self.levels {
            let mut kept = VecDeque::with_capacity(q.len());
            for w in q.drain(..) {
                if w.wanted() {
                    kept.push_back(w);
                } else {
                    self.len -= 1;
                    f(w);
                }
            }
            *q = kept;
        }
    }

    /// The earliest intended send time of any waiting request.
    pub(crate) fn oldest_intended(&self) -> Option<u64> {
        self.levels
            .iter()
            .filter_map(|q| q.front())
            .map(Request::intended)
            .min()
    }

    /// Empties the queue, calling `f` on every request.
    pub(crate) fn drain_all(&mut self, mut f: impl FnMut(W)) {
        for q in &mut self.levels {
            for w in q.drain(..) {
                f(w);
            }
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Waiting {
        intended: u64,
        class: u16,
    }

    impl Request for Waiting {
        fn class(&self) -> u16 {
            self.class
        }
        fn intended(&self) -> u64 {
            self.intended
        }
        fn service_ns(&self) -> u64 {
            1
        }
        fn wanted(&self) -> bool {
            self.intended != 99
        }
    }

    fn w(intended: u64, class: u16) -> Waiting {
        Waiting { intended, class }
    }

    #[test]
    fn higher_priority_first_fifo_within() {
        // class 0 priority 0, class 1 priority 5
        let mut q = WaitQueue::new(10, &[0, 5]);
        q.offer(w(1, 0));
        q.offer(w(2, 1));
        q.offer(w(3, 0));
        q.offer(w(4, 1));
        let order: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|w| w.intended).collect();
        assert_eq!(order, vec![2, 4, 1, 3]);
    }

    #[test]
    fn full_queue_sheds_lowest_priority_or_rejects() {
        let mut q = WaitQueue::new(2, &[0, 5]);
        assert_eq!(q.offer(w(1, 0)), Offer::Queued);
        assert_eq!(q.offer(w(2, 0)), Offer::Queued);
        assert_eq!(q.offer(w(3, 0)), Offer::Rejected(w(3, 0)));
        assert_eq!(q.offer(w(4, 1)), Offer::Shed(w(2, 0)));
        assert_eq!(q.offer(w(5, 1)), Offer::Shed(w(1, 0)));
        assert_eq!(q.offer(w(6, 1)), Offer::Rejected(w(6, 1)));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn expiry_takes_only_old_heads() {
        let mut q = WaitQueue::new(10, &[0]);
        for t in [1, 2, 3, 10] {
            q.offer(w(t, 0));
        }
        let mut gone = vec![];
        q.expire(3, |w| gone.push(w.intended));
        assert_eq!(gone, vec![1, 2, 3]);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn pruning_takes_the_unwanted_wherever_they_wait() {
        let mut q = WaitQueue::new(10, &[0, 5]);
        for (t, c) in [(1, 0), (99, 0), (3, 1), (99, 1), (5, 0)] {
            q.offer(w(t, c));
        }
        let mut gone = 0;
        q.prune(|_| gone += 1);
        assert_eq!((gone, q.len()), (2, 3));
        let order: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|w| w.intended).collect();
        assert_eq!(order, vec![3, 1, 5]);
    }
}
