//! The least-loaded router's index: ready pods bucketed by their number of requests in service,
//! so picking the least-loaded pod with a free slot is O(1) amortised however many pods serve.

/// Marks a pod that is not in the index.
const ABSENT: u32 = u32::MAX;

/// Ready pods by load. Ties go to the pod that entered its bucket last, deterministically.
#[derive(Debug)]
pub(crate) struct LoadIndex {
    /// `buckets[k]` holds the ready pods with k requests in service (k <= concurrency).
    buckets: Vec<Vec<u32>>,
    /// Each pod's load, or `ABSENT` when it is not ready.
    load: Vec<u32>,
    /// Each pod's position in its bucket.
    pos: Vec<u32>,
    /// No bucket below this one is non-empty.
    low: usize,
    len: usize,
}

impl LoadIndex {
    /// An index for pods serving at most `concurrency` requests each.
    pub(crate) fn new(concurrency: u32) -> Self {
        LoadIndex {
            buckets: vec![Vec::new(); concurrency as usize + 1],
            load: Vec::new(),
            pos: Vec::new(),
            low: 0,
            len: 0,
        }
    }

    /// Ready pods.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a ready pod serving `load` requests.
    pub(crate) fn insert(&mut self, pod: u32, load: u32) {
        let i = pod as usize;
        if self.load.len() <= i {
            self.load.resize(i + 1, ABSENT);
            self.pos.resize(i + 1, 0);
        }
        debug_assert_eq!(self.load[i], ABSENT, "pod {pod} is already routed to");
        self.put(pod, load);
        self.len += 1;
    }

    #[inline]
    fn put(&mut self, pod: u32, load: u32) {
        let b = &mut self.buckets[load as usize];
        self.load[pod as usize] = load;
        self.pos[pod as usize] = b.len() as u32;
        b.push(pod);
        if (load as usize) < self.low {
            self.low = load as usize;
        }
    }

    /// Takes `pod` out of its bucket; the bucket's last pod takes its position.
    #[inline]
    fn take(&mut self, pod: u32, load: u32) {
        let at = self.pos[pod as usize] as usize;
        let b = &mut self.buckets[load as usize];
        let last = b.len() - 1;
        let moved = b[last];
        b[at] = moved;
        b.truncate(last);
        self.pos[moved as usize] = at as u32;
    }

    /// Removes a pod (it stops being ready). Returns false when it was not in the index.
    pub(crate) fn remove(&mut self, pod: u32) -> bool {
        let load = self.load.get(pod as usize).copied().unwrap_or(ABSENT);
        if load == ABSENT {
            return false;
        }
        self.take(pod, load);
        self.load[pod as usize] = ABSENT;
        self.len -= 1;
        true
    }

    /// Records that `pod`'s load changed to `load` (no-op when it is not in the index).
    #[inline]
    pub(crate) fn set_load(&mut self, pod: u32, load: u32) {
        let old = self.load.get(pod as usize).copied().unwrap_or(ABSENT);
        if old == ABSENT || old == load {
            return;
        }
        self.take(pod, old);
        self.put(pod, load);
    }

    /// The least-loaded ready pod with a free slot, if any.
    #[inline]
    pub(crate) fn least_loaded(&mut self) -> Option<u32> {
        let full = self.buckets.len() - 1;
        while self.low < full {
            if let Some(&pod) = self.buckets[self.low].last() {
                return Some(pod);
            }
            self.low += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_least_loaded_with_a_free_slot() {
        let mut ix = LoadIndex::new(2);
        assert_eq!(ix.least_loaded(), None);
        ix.insert(0, 1);
        ix.insert(1, 0);
        ix.insert(2, 2);
        assert_eq!(ix.least_loaded(), Some(1));
        ix.set_load(1, 1);
        // Both at load 1: the one that entered the bucket last.
        assert_eq!(ix.least_loaded(), Some(1));
        ix.set_load(1, 2);
        assert_eq!(ix.least_loaded(), Some(0));
        ix.set_load(0, 2);
        assert_eq!(ix.least_loaded(), None, "every pod is full");
        ix.set_load(2, 1);
        assert_eq!(ix.least_loaded(), Some(2));
        assert_eq!(ix.len(), 3);
        ix.set_load(7, 0);
        assert_eq!(ix.least_loaded(), Some(2), "an unknown pod is ignored");
    }

    #[test]
    fn removal_keeps_positions_consistent() {
        let mut ix = LoadIndex::new(4);
        for p in 0..5 {
            ix.insert(p, 0);
        }
        assert!(ix.remove(0));
        assert!(!ix.remove(0));
        assert!(!ix.remove(99));
        assert!(ix.remove(3));
        let mut seen = Vec::new();
        while let Some(p) = ix.least_loaded() {
            seen.push(p);
            ix.remove(p);
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2, 4]);
        assert_eq!(ix.len(), 0);
        ix.insert(3, 2);
        assert_eq!(ix.least_loaded(), Some(3), "a removed pod can come back");
    }
}
