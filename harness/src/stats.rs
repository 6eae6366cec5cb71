//! The small statistics that noise-aware gates need: the mean and sample standard deviation of
//! a few repeated runs, Student's t distribution, the confidence interval of a mean, and
//! Welch's t-test for "is this sample worse than that one".
//!
//! The t distribution's CDF comes from the regularized incomplete beta function (Lentz's
//! continued fraction, as in Numerical Recipes); its quantile is found by bisection on the CDF,
//! which is slow by numerical standards (a few microseconds) and accurate to 1e-10.

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

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let floor = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / floor(1.0 - qab * x / qap);
    let mut h = d;
    // One term of the fraction: updates c and d and returns the factor it puts on h.
    let step = |aa: f64, c: &mut f64, d: &mut f64| {
        *d = 1.0 / floor(1.0 + aa * *d);
        *c = floor(1.0 + aa / *c);
        *d * *c
    };
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        let del = step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(T <= t) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The quantile of Student's t: the `t` with P(T <= t) = `p`, for p in (0, 1) and df > 0.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0 && df > 0.0) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let mut hi = 1.0;
    while t_cdf(hi, df) < p && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
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
    Some(TTest {
        t,
        df,
        p: 1.0 - t_cdf(t, df),
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
