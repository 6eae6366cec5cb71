//! The least-loaded router's index: ready pods bucketed by their number of requests in service,
//! so picking the least-loaded pod with a free slot is O(1) amortised however many pods serve.

/// Where a pod sits in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    load: u32,
    pos: u32,
}

/// Ready pods by load. Ties go to the pod that entered its bucket last, deterministically.
#[derive(Debug)]
pub(crate) struct LoadIndex {
    /// `buckets[k]` holds the ready pods with k requests in service (k <= concurrency).
    buckets: Vec<Vec<u32>>,
    /// The place of each pod id, `None` when it is not ready.
    places: Vec<Option<Place>>,
    /// No bucket below this one is non-empty.
    low: usize,
    len: usize,
}

impl LoadIndex {
    /// An index for pods serving at most `concurrency` requests each.
    pub(crate) fn new(concurrency: u32) -> Self {
        LoadIndex {
            buckets: vec![Vec::new(); concurrency as usize + 1],
            places: Vec::new(),
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
        if self.places.len() <= i {
            self.places.resize(i + 1, None);
        }
        debug_assert!(self.places[i].is_none(), "pod {pod} is already routed to");
        let b = &mut self.buckets[load as usize];
        self.places[i] = Some(Place {
            load,
            pos: b.len() as u32,
        });
        b.push(pod);
        self.low = self.low.min(load as usize);
        self.len += 1;
    }

    /// Removes a pod (it stops being ready). Returns false when it was not in the index.
    pub(crate) fn remove(&mut self, pod: u32) -> bool {
        let Some(place) = self.places.get_mut(pod as usize).and_then(Option::take) else {
            return false;
        };
        let b = &mut self.buckets[place.load as usize];
        b.swap_remove(place.pos as usize);
        if let Some(&moved) = b.get(place.pos as usize) {
            if let Some(p) = self.places[moved as usize].as_mut() {
                p.pos = place.pos;
            }
        }
        self.len -= 1;
        true
    }

    /// Records that `pod`'s load changed to `load` (no-op when it is not in the index).
    #[inline]
    pub(crate) fn set_load(&mut self, pod: u32, load: u32) {
        let Some(Some(place)) = self.places.get(pod as usize).copied() else {
            return;
        };
        if place.load == load {
            return;
        }
        // Out of the old bucket: the last pod there takes this one's position.
        let old = &mut self.buckets[place.load as usize];
        old.swap_remove(place.pos as usize);
        if let Some(&moved) = old.get(place.pos as usize) {
            if let Some(p) = self.places[moved as usize].as_mut() {
                p.pos = place.pos;
            }
        }
        let new = &mut self.buckets[load as usize];
        self.places[pod as usize] = Some(Place {
            load,
            pos: new.len() as u32,
        });
        new.push(pod);
        self.low = self.low.min(load as usize);
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
    }

    #[test]
    fn removal_keeps_positions_consistent() {
        let mut ix = LoadIndex::new(4);
        for p in 0..5 {
            ix.insert(p, 0);
        }
        assert!(ix.remove(0));
        assert!(!ix.remove(0));
        assert!(ix.remove(3));
        let mut seen = Vec::new();
        while let Some(p) = ix.least_loaded() {
            seen.push(p);
            ix.remove(p);
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2, 4]);
        assert_eq!(ix.len(), 0);
    }
}
