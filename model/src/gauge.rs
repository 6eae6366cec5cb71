//! Time-weighted gauges: a value that changes at instants and whose integral over time is
//! wanted (in-flight requests, queue length, nodes, replicas). Integer nanoseconds throughout,
//! so billing sums are exact.

/// A gauge and its running integral.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gauge {
    value: u64,
    /// Integral of `value` over time up to `last`, in value x ns.
    acc: u128,
    last: u64,
}

impl Gauge {
    /// The current value.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.value
    }

    /// Sets the value from `now` on.
    #[inline]
    pub(crate) fn set(&mut self, now: u64, value: u64) {
        debug_assert!(now >= self.last, "time went backwards");
        self.acc += self.value as u128 * (now - self.last) as u128;
        self.last = now;
        self.value = value;
    }

    /// Adds `d` from `now` on.
    #[inline]
    pub(crate) fn add(&mut self, now: u64, d: u64) {
        self.set(now, self.value + d);
    }

    /// Subtracts `d` from `now` on.
    #[inline]
    pub(crate) fn sub(&mut self, now: u64, d: u64) {
        self.set(now, self.value.saturating_sub(d));
    }

    /// The integral from the start up to `t` (t >= the last change).
    #[inline]
    pub(crate) fn integral(&self, t: u64) -> u128 {
        self.acc + self.value as u128 * t.saturating_sub(self.last) as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_piecewise_constant_values() {
        let mut g = Gauge::default();
        g.set(10, 3);
        g.add(20, 2);
        g.sub(30, 4);
        assert_eq!(g.get(), 1);
        // 0 x 10 + 3 x 10 + 5 x 10 + 1 x 5
        assert_eq!(g.integral(35), 30 + 50 + 5);
    }
}
