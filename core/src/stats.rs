//! The small statistics that noise-aware gates need: the mean and sample standard deviation of
//! a few repeated runs, Student's t distribution, the confidence interval of a mean, and
//! Welch's t-test for "is this sample worse than that one".
//!
//! Student's t distribution comes from the `statrs` crate (`StudentsT`), a maintained
//! implementation, rather than our own special functions. The one-sided p-value of
//! [`welch_greater`] is its survival function `sf(t)`, computed directly from the tail, and
//! not `1 - cdf(t)`: that difference cancels to exactly 0 once p falls below about 1e-16,
//! where a gate still needs p to compare against its level and the JSON reports it.
//!
//! The quantile ([`t_quantile`]) is found by bisection on statrs' CDF of the lower tail
//! rather than with statrs' `inverse_cdf`: in statrs 0.18 and 0.19 that inverse (AS 109 on
//! the incomplete beta, whose iteration has no bound) is off by 9% at a tail probability of
//! 1e-8 with one degree of freedom and by nearly 100% at 1e-12, panics below about 1e-162,
//! and ran for more than 5 s without returning at 1e-100 with 1000 degrees of freedom (see
//! statrs issue #435 on its `inv_beta_reg`). The bisection costs about 65 CDF evaluations
//! (about 10 µs) and is as accurate as the CDF, in both tails.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The arithmetic mean; NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The sample standard deviation (n - 1 in the denominator); 0 for fewer than two values.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Student's t with `df` degrees of freedom, centred at 0 with scale 1; `None` unless df > 0
/// (NaN and 0 are rejected by statrs; ∞ is the normal distribution).
fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// P(T <= t) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole);
/// NaN for a NaN `t` or an invalid `df`.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    match students_t(df) {
        // statrs panics on a NaN argument.
        Some(dist) if !t.is_nan() => dist.cdf(t),
        _ => f64::NAN,
    }
}

/// P(T > t): the upper tail, as accurate for small probabilities as the lower one. NaN for a
/// NaN `t` or an invalid `df`.
fn t_sf(t: f64, df: f64) -> f64 {
    match students_t(df) {
        Some(dist) if !t.is_nan() => dist.sf(t),
        _ => f64::NAN,
    }
}

/// The quantile of Student's t: the `t` with P(T <= t) = `p`, for p in (0, 1) and df > 0; NaN
/// otherwise.
///
/// As accurate as statrs' CDF, in the far tails too: the lower tail `p` or `1 - p` (exact for
/// p > 1/2) is inverted, never a `p` near 1, and the relative error stays near 1e-14 down to
/// p = 1e-300 (near the median with about 1000 degrees of freedom the CDF's own error makes
/// it 1e-11). A quantile beyond ±1e154, where the CDF can no longer be evaluated (t²
/// overflows), is ±∞.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let Some(dist) = students_t(df) else {
        return f64::NAN;
    };
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    // By symmetry, q(p) = -q(1 - p).
    let s = lower_tail_quantile(&dist, p.min(1.0 - p));
    if p < 0.5 { -s } else { s }
}

/// The `s > 0` with P(T <= -s) = `tail`, for `tail` in (0, 1/2); ∞ when s > 1e154.
///
/// Bisection on statrs' CDF, which falls from 1/2 at s = 0 towards 0: geometric midpoints
/// while the bracket spans more than a factor of 2 (about 11 steps from [1e-308, 1e154]),
/// then arithmetic ones down to adjacent doubles (about 53 more).
fn lower_tail_quantile(dist: &StudentsT, tail: f64) -> f64 {
    // Past this, s² overflows inside the CDF, which then returns 0 whatever the true tail.
    const MAX: f64 = 1e154;
    if dist.cdf(-MAX) > tail {
        return f64::INFINITY;
    }
    // Invariant: P(T <= -lo) > tail >= P(T <= -hi). At lo, the CDF is 1/2 > tail.
    let (mut lo, mut hi) = (f64::MIN_POSITIVE, MAX);
    // 200 is far more steps than the bracket needs; it only bounds the loop.
    for _ in 0..200 {
        let mid = if hi > 2.0 * lo {
            lo.sqrt() * hi.sqrt()
        } else {
            lo + (hi - lo) / 2.0
        };
        if mid <= lo || mid >= hi {
            break;
        }
        if dist.cdf(-mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The two-sided confidence interval of the mean of `values` at `level` (0.95):
/// mean ± t(1 - (1 - level)/2, n - 1) · sd / √n. With one value both ends are that value (no
/// spread can be estimated); with none, NaN.
pub fn mean_ci(values: &[f64], level: f64) -> (f64, f64) {
    let m = mean(values);
    let n = values.len();
    if n < 2 {
        return (m, m);
    }
    let half = t_quantile(1.0 - (1.0 - level) / 2.0, (n - 1) as f64) * sample_sd(values)
        / (n as f64).sqrt();
    (m - half, m + half)
}

/// The outcome of a one-sided two-sample t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// The t statistic of mean(a) - mean(b).
    pub t: f64,
    /// Degrees of freedom (Welch–Satterthwaite; may be fractional).
    pub df: f64,
    /// One-sided p-value of "mean(a) > mean(b)": the chance of a t this large if the means
    /// were equal.
    pub p: f64,
}

/// Welch's t-test of "the mean of `a` is greater than the mean of `b`" (one-sided).
///
/// - Both samples with two or more values: Welch's test (unequal variances).
/// - One sample with a single value: its variance cannot be estimated, so the other sample's
///   is assumed for both (a pooled test with the other sample's n - 1 degrees of freedom; for a
///   single new run against a repeated baseline, this asks whether the run lies beyond the
///   baseline's spread).
/// - A single value on both sides, or an empty sample: `None`; no test is possible.
/// - No spread at all (every value of both samples equal within its sample): the difference is
///   certain, so p is 0 when mean(a) > mean(b) and 1 otherwise.
pub fn welch_greater(a: &[f64], b: &[f64]) -> Option<TTest> {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 || (na < 2 && nb < 2) {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    let (va, vb) = (sample_sd(a).powi(2), sample_sd(b).powi(2));
    let (na_f, nb_f) = (na as f64, nb as f64);
    let (se2, df) = if na < 2 {
        (vb * (1.0 / na_f + 1.0 / nb_f), nb_f - 1.0)
    } else if nb < 2 {
        (va * (1.0 / na_f + 1.0 / nb_f), na_f - 1.0)
    } else {
        let (qa, qb) = (va / na_f, vb / nb_f);
        let se2 = qa + qb;
        let denom = qa * qa / (na_f - 1.0) + qb * qb / (nb_f - 1.0);
        let df = if denom > 0.0 {
            se2 * se2 / denom
        } else {
            na_f + nb_f - 2.0
        };
        (se2, df)
    };
    let diff = ma - mb;
    if se2 <= 0.0 || !se2.is_finite() {
        let p = if diff > 0.0 { 0.0 } else { 1.0 };
        let t = if diff > 0.0 {
            f64::INFINITY
        } else if diff < 0.0 {
            f64::NEG_INFINITY
        } else {
            0.0
        };
        return Some(TTest { t, df, p });
    }
    let t = diff / se2.sqrt();
    // The upper tail itself, not 1 - cdf(t), which is exactly 0 for any p below ~1e-16.
    Some(TTest {
        t,
        df,
        p: t_sf(t, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        for (p, df, want) in [
            (0.975, 4.0, 2.776),
            (0.975, 1.0, 12.706),
            (0.95, 10.0, 1.812),
            (0.95, 1.0, 6.314),
            (0.975, 30.0, 2.042),
            (0.995, 2.0, 9.925),
            (0.9995, 1.0, 636.619),
            (0.975, 1000.0, 1.962),
        ] {
            let got = t_quantile(p, df);
            assert!(
                close(got, want, 0.0015),
                "t({p}, {df}) = {got}, want {want}"
            );
        }
        assert!(close(t_quantile(0.025, 4.0), -2.776, 0.0015));
        assert_eq!(t_quantile(0.5, 3.0), 0.0);
        assert!(t_quantile(1.0, 3.0).is_nan());
    }

    #[test]
    fn the_t_cdf_is_known_at_its_center_and_for_one_degree_of_freedom() {
        assert!(close(t_cdf(0.0, 5.0), 0.5, 1e-12));
        // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
        for t in [-3.0, -0.5, 0.7, 2.0, 40.0] {
            let want = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!(close(t_cdf(t, 1.0), want, 1e-10), "t = {t}");
        }
    }

    #[test]
    fn mean_sd_and_interval() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&v), 5.0);
        assert!(close(sample_sd(&v), 2.138_089_935, 1e-9));
        // n = 5, mean 10, sd 1: half-width t(0.975, 4) / √5 = 1.2416.
        let (lo, hi) = mean_ci(&[9.0, 10.0, 11.0, 9.0, 11.0], 0.95);
        assert!(
            close(lo, 10.0 - 1.2416, 1e-3) && close(hi, 10.0 + 1.2416, 1e-3),
            "{lo} {hi}"
        );
        assert_eq!(mean_ci(&[3.0], 0.95), (3.0, 3.0));
        assert_eq!(sample_sd(&[3.0]), 0.0);
    }

    #[test]
    fn welch_separates_real_shifts_from_noise() {
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        let worse = [110.0, 112.0, 108.0, 111.0, 109.0];
        let same = [101.0, 99.0, 100.5, 98.5, 102.0];
        let w = welch_greater(&worse, &base).unwrap_or_else(|| panic!("no test"));
        assert!(w.p < 1e-4, "{w:?}");
        assert!(
            close(w.df, 8.0, 1e-9),
            "equal variances give n1 + n2 - 2: {w:?}"
        );
        let s = welch_greater(&same, &base).unwrap_or_else(|| panic!("no test"));
        assert!(s.p > 0.3, "{s:?}");
        // Known value: t = 1.5 with 8 df, one-sided p = 0.0860.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b: Vec<f64> = a
            .iter()
            .map(|x| x - 1.5 * (2.5f64 * 2.0 / 5.0).sqrt())
            .collect();
        let k = welch_greater(&a, &b).unwrap_or_else(|| panic!("no test"));
        assert!(close(k.t, 1.5, 1e-9) && close(k.p, 0.0860, 5e-4), "{k:?}");
    }

    /// P(T > t) for one degree of freedom (the Cauchy distribution), 1/2 - atan(t)/π, written
    /// as atan(1/t)/π so that it keeps its precision for large t > 0.
    fn cauchy_sf(t: f64) -> f64 {
        (1.0 / t).atan() / std::f64::consts::PI
    }

    fn close_rel(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn welch_p_values_stay_exact_far_below_machine_epsilon() {
        // Equal spreads (variance 2.5, n = 5): t is the shift itself, exactly 700, with 8 df.
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        let far: Vec<f64> = base.iter().map(|x| x + 700.0).collect();
        let w = welch_greater(&far, &base).unwrap_or_else(|| panic!("no test"));
        assert!(w.t == 700.0 && w.df == 8.0, "{w:?}");
        // P(T > 700) with 8 df, from mpmath (50 digits): 0.5 · I_{8/(8 + 700²)}(4, 1/2).
        let want = 9.713_554_499_899_22e-21;
        assert!(close_rel(w.p, want, 1e-12), "{w:?}, want p = {want:e}");
        // One run against two: a pooled test with 1 df, whose tail has a closed form.
        let one = welch_greater(&[1e20], &[99.0, 101.0]).unwrap_or_else(|| panic!("no test"));
        assert_eq!(one.df, 1.0, "{one:?}");
        let want = cauchy_sf(one.t);
        assert!(want > 1e-21 && want < 1e-20, "{one:?}");
        assert!(close_rel(one.p, want, 1e-12), "{one:?}, want p = {want:e}");
        // The other direction: p near 1, not 1 - (a tiny tail) rounded oddly.
        let back = welch_greater(&base, &far).unwrap_or_else(|| panic!("no test"));
        assert_eq!(back.p, 1.0, "{back:?}");
    }

    #[test]
    fn t_quantiles_hold_in_the_far_tails() {
        // df = 1: the quantile is tan(π(p - 1/2)) = -1/tan(πp).
        for p in [1e-6, 1e-10, 1e-20, 1e-100] {
            let want = -1.0 / (std::f64::consts::PI * p).tan();
            let got = t_quantile(p, 1.0);
            assert!(
                close_rel(got, want, 1e-13),
                "t({p:e}, 1) = {got:e}, want {want:e}"
            );
        }
        // df = 2: the quantile is (2p - 1) / √(2p(1 - p)).
        for p in [1e-12_f64, 1e-300] {
            let want = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            let got = t_quantile(p, 2.0);
            assert!(
                close_rel(got, want, 1e-13),
                "t({p:e}, 2) = {got:e}, want {want:e}"
            );
        }
        // The upper tail by symmetry, from a p whose 1 - p is exact.
        let p = 1.0 - 2f64.powi(-40);
        let want = 1.0 / (std::f64::consts::PI * 2f64.powi(-40)).tan();
        assert!(close_rel(t_quantile(p, 1.0), want, 1e-13));
        // Fractional df, from mpmath (25 digits).
        for (p, df, want) in [
            (1e-12, 4.0, -1_316.072_746_559_256_5),
            (1e-15, 2.5, -876_543.788_226_89),
            (1e-10, 30.0, -9.377_489_780_407_143),
        ] {
            let got = t_quantile(p, df);
            assert!(
                close_rel(got, want, 1e-13),
                "t({p:e}, {df}) = {got:e}, want {want:e}"
            );
        }
        // Beyond what the CDF can evaluate: -∞ rather than a wrong finite value.
        assert_eq!(t_quantile(1e-300, 0.5), f64::NEG_INFINITY);
        // The quantile and the CDF agree.
        for df in [1.0, 3.5, 30.0] {
            for p in [1e-8, 0.01, 0.3, 0.9] {
                let back = t_cdf(t_quantile(p, df), df);
                assert!(close_rel(back, p, 1e-12), "cdf(q({p}, {df})) = {back}");
            }
        }
    }

    #[test]
    fn invalid_arguments_are_nan_not_panics() {
        // statrs panics on a NaN argument and rejects df <= 0; we return NaN.
        assert!(t_cdf(f64::NAN, 3.0).is_nan());
        assert!(t_cdf(1.0, 0.0).is_nan());
        assert!(t_cdf(1.0, -2.0).is_nan());
        assert!(t_cdf(1.0, f64::NAN).is_nan());
        assert!(t_sf(f64::NAN, 3.0).is_nan());
        assert!(t_quantile(f64::NAN, 3.0).is_nan());
        assert!(t_quantile(0.3, 0.0).is_nan());
        assert!(t_quantile(0.0, 3.0).is_nan());
        assert_eq!(t_cdf(f64::INFINITY, 3.0), 1.0);
        assert_eq!(t_cdf(f64::NEG_INFINITY, 3.0), 0.0);
        // Infinitely many degrees of freedom: the normal distribution (statrs' normal CDF is
        // good to about 1e-11 here).
        assert!(close(
            t_quantile(0.975, f64::INFINITY),
            1.959_963_984_540_054,
            1e-9
        ));
    }

    #[test]
    fn welch_edge_cases() {
        assert_eq!(welch_greater(&[1.0], &[2.0]), None);
        assert_eq!(welch_greater(&[], &[2.0, 3.0]), None);
        // One new run far beyond a repeated baseline's spread.
        let one = welch_greater(&[130.0], &[100.0, 102.0, 98.0, 101.0, 99.0]);
        assert!(one.is_some_and(|t| t.p < 0.01 && t.df == 4.0), "{one:?}");
        // No spread: certain.
        let flat = welch_greater(&[5.0, 5.0], &[4.0, 4.0, 4.0]);
        assert!(flat.is_some_and(|t| t.p == 0.0), "{flat:?}");
        let equal = welch_greater(&[4.0, 4.0], &[4.0, 4.0]);
        assert!(equal.is_some_and(|t| t.p == 1.0), "{equal:?}");
    }
}
