//! Exact time scaling and sorted random offsets, the arithmetic the replay's transforms share.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// The speeds a replay accepts: from a thousandth of real time to a million times faster.
pub(crate) const SPEED_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1e6;

/// Division of nanoseconds by a speed factor, exact: `floor(t / speed)` where `speed` is the
/// decimal the user wrote (`0.1` is one tenth, not the nearest binary fraction), in integer
/// arithmetic. A float division would be off by a nanosecond once `t` passes 2^53 ns (104 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scale {
    /// The speed is `num / den`, in lowest terms.
    num: u128,
    den: u128,
}

impl Scale {
    /// The scale for `speed`, or `None` outside [`SPEED_RANGE`] (or not finite).
    pub(crate) fn new(speed: f64) -> Option<Self> {
        if !SPEED_RANGE.contains(&speed) {
            return None;
        }
        // `Display` of an f64 is the shortest decimal that reads back as the same f64, without
        // an exponent: at most 17 significant digits, and at most 20 after the point here.
        let text = speed.to_string();
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let mut num: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            num = num
                .checked_mul(10)?
                .checked_add(u128::from(b.checked_sub(b'0')?))?;
        }
        let den = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        let g = gcd(num, den);
        (num > 0).then(|| Scale {
            num: num / g,
            den: den / g,
        })
    }

    /// `floor(t / speed)`, saturating at `u64::MAX`.
    pub(crate) fn apply(self, t: u64) -> u64 {
        let t = u128::from(t);
        // t * den / num without overflow: (q * num + r) * den / num = q * den + r * den / num,
        // and r * den < num * den < 10^17 * 10^20 fits in u128.
        let (q, r) = (t / self.num, t % self.num);
        q.checked_mul(self.den)
            .and_then(|whole| whole.checked_add(r * self.den / self.num))
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(u64::MAX)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// `count` sorted uniform draws in `[0, 1)`, made one at a time in increasing order with O(1)
/// memory: given the previous draw `u`, the smallest of the `r` draws still to come is
/// `u + (1 - u) * (1 - V^(1/r))` for a uniform `V` (the minimum of `r` uniforms on `[u, 1)`).
/// These are the order statistics of `count` independent uniforms, which is also where a Poisson
/// process puts `count` arrivals in an interval.
#[derive(Debug, Clone)]
pub(crate) struct SortedUniforms {
    left: u64,
    u: f64,
}

impl SortedUniforms {
    /// `count` draws to come.
    pub(crate) fn new(count: u64) -> Self {
        SortedUniforms {
            left: count,
            u: 0.0,
        }
    }

    /// The next draw, or `None` after `count` of them.
    pub(crate) fn next(&mut self, rng: &mut Pcg64Mcg) -> Option<f64> {
        if self.left == 0 {
            return None;
        }
        let v: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        // left fits f64 exactly enough for an exponent.
        let r = self.left as f64;
        self.u += (1.0 - self.u) * (1.0 - v.powf(1.0 / r));
        self.left -= 1;
        Some(self.u.clamp(0.0, 1.0))
    }

    /// The next draw as an offset in `[0, width)` nanoseconds (0 when `width` is 0).
    pub(crate) fn next_offset(&mut self, rng: &mut Pcg64Mcg, width: u64) -> Option<u64> {
        let u = self.next(rng)?;
        if width == 0 {
            return Some(0);
        }
        // width < 2^64; the product is below width, floor keeps it so (up to rounding, clamped).
        let offset = (u * width as f64).floor() as u64;
        Some(offset.min(width - 1))
    }
}

/// A 64-bit mix (SplitMix64's finaliser) of a seed and a purpose or index: independent streams
/// from one seed, e.g. one per minute of a Functions 2019 trace.
pub(crate) fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed
        .wrapping_add(a.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(b.wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn scale(speed: f64) -> Scale {
        Scale::new(speed).unwrap_or_else(|| panic!("speed {speed} refused"))
    }

    #[test]
    fn scale_is_exact_floor_division() {
        assert_eq!(scale(1.0).apply(1_000_000_001), 1_000_000_001);
        assert_eq!(scale(2.0).apply(1_000_000_001), 500_000_000);
        assert_eq!(scale(0.5).apply(1_000_000_001), 2_000_000_002);
        assert_eq!(scale(4.0).apply(7), 1);
        // t / 1.5 = 2t / 3.
        assert_eq!(scale(1.5).apply(3_000_000_000), 2_000_000_000);
        assert_eq!(scale(1.5).apply(4), 2);
        // The decimal the user wrote: 0.1 is a tenth.
        assert_eq!(scale(0.1).apply(10), 100);
        assert_eq!(scale(0.001).apply(7), 7_000);
        assert_eq!(scale(3.0).apply(u64::MAX), u64::MAX / 3);
        assert_eq!(scale(1e6).apply(2_999_999), 2);
        // Past 2^53 a float division would round; this stays exact.
        let t = (1u64 << 60) + 1;
        assert_eq!(scale(2.0).apply(t), t / 2);
        assert_eq!(scale(0.25).apply(u64::MAX), u64::MAX);
        assert_eq!(scale(0.123_456_789_012_345_67).apply(1 << 62), u64::MAX);
    }

    #[test]
    fn scale_refuses_what_it_cannot_represent() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-4, 1e7] {
            assert!(Scale::new(bad).is_none(), "{bad}");
        }
        assert!(Scale::new(0.001).is_some());
        assert!(Scale::new(1e6).is_some());
        assert!(Scale::new(0.001_234_567_890_123_456_7).is_some());
    }

    #[test]
    fn sorted_uniforms_are_sorted_in_range_and_counted() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut draws = SortedUniforms::new(10_000);
        let mut prev = 0;
        let mut n = 0;
        let mut sum = 0u128;
        while let Some(x) = draws.next_offset(&mut rng, 60_000_000_000) {
            assert!(x >= prev && x < 60_000_000_000);
            prev = x;
            n += 1;
            sum += u128::from(x);
        }
        assert_eq!(n, 10_000);
        // Mean of uniforms on [0, 60 s): 30 s, within 2% for 10,000 draws.
        let mean = (sum / 10_000) as f64;
        assert!((mean - 30e9).abs() < 0.6e9, "mean {mean}");
    }

    #[test]
    fn mix_separates_streams() {
        assert_ne!(mix(1, 0, 0), mix(1, 0, 1));
        assert_ne!(mix(1, 1, 0), mix(1, 0, 1));
        assert_eq!(mix(7, 3, 4), mix(7, 3, 4));
    }
}
