//! Distributions of durations: how long a request takes to serve, how long a pod takes to pull
//! its image or load its model. A scenario writes one as a plain duration (`"200ms"`, fixed) or
//! as a table naming the distribution.

use std::fmt;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::units::Duration;

/// The 99th percentile of the standard normal distribution.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations as written in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum DurationDist {
    /// Always the same duration.
    Fixed {
        /// The duration.
        value: Duration,
    },
    /// Exponentially distributed with the given mean (memoryless service: M/M/c).
    Exponential {
        /// The mean.
        mean: Duration,
    },
    /// Log-normal, set by its median and 99th percentile: the usual shape of inference latency.
    Lognormal {
        /// The median.
        median: Duration,
        /// The 99th percentile; must exceed the median.
        p99: Duration,
    },
    /// Uniform between two bounds.
    Uniform {
        /// The lower bound.
        min: Duration,
        /// The upper bound; at least `min`.
        max: Duration,
    },
}

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum Tagged {
    Fixed { value: Duration },
    Exponential { mean: Duration },
    Lognormal { median: Duration, p99: Duration },
    Uniform { min: Duration, max: Duration },
}

impl<'de> Deserialize<'de> for DurationDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DurationDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration (\"200ms\") or a table such as { dist = \"lognormal\", median = \"200ms\", p99 = \"1s\" } \
                     (dist: fixed, exponential, lognormal, uniform)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationDist, E> {
                let value: Duration = v.parse().map_err(E::custom)?;
                Ok(DurationDist::Fixed { value })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DurationDist, A::Error> {
                let t = Tagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let dist = match t {
                    Tagged::Fixed { value } => DurationDist::Fixed { value },
                    Tagged::Exponential { mean } => DurationDist::Exponential { mean },
                    Tagged::Lognormal { median, p99 } => {
                        if p99 <= median || median.is_zero() {
                            return Err(de::Error::custom(format!(
                                "a lognormal needs 0 < median < p99, found median {median} and p99 {p99}"
                            )));
                        }
                        DurationDist::Lognormal { median, p99 }
                    }
                    Tagged::Uniform { min, max } => {
                        if max < min {
                            return Err(de::Error::custom(format!(
                                "a uniform needs min <= max, found min {min} and max {max}"
                            )));
                        }
                        DurationDist::Uniform { min, max }
                    }
                };
                Ok(dist)
            }
        }
        d.deserialize_any(V)
    }
}

impl DurationDist {
    /// A fixed duration.
    pub fn fixed(value: Duration) -> Self {
        DurationDist::Fixed { value }
    }

    /// The mean, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            DurationDist::Fixed { value } => value.as_secs_f64(),
            DurationDist::Exponential { mean } => mean.as_secs_f64(),
            DurationDist::Lognormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                (mu + sigma * sigma / 2.0).exp()
            }
            DurationDist::Uniform { min, max } => (min.as_secs_f64() + max.as_secs_f64()) / 2.0,
        }
    }

    /// The value at quantile `q` (0-1), in seconds.
    pub fn quantile_secs(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0);
        match *self {
            DurationDist::Fixed { value } => value.as_secs_f64(),
            DurationDist::Exponential { mean } => -mean.as_secs_f64() * (1.0 - q).ln(),
            DurationDist::Lognormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                (mu + sigma * inverse_normal_cdf(q)).exp()
            }
            DurationDist::Uniform { min, max } => {
                min.as_secs_f64() + q * (max.as_secs_f64() - min.as_secs_f64())
            }
        }
    }

    /// A sampler with the parameters precomputed, for hot loops.
    pub fn sampler(&self) -> Sampler {
        match *self {
            DurationDist::Fixed { value } => Sampler::Fixed(value.as_secs_f64()),
            DurationDist::Exponential { mean } => Sampler::Exponential(mean.as_secs_f64()),
            DurationDist::Lognormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                Sampler::Lognormal { mu, sigma }
            }
            DurationDist::Uniform { min, max } => Sampler::Uniform {
                lo: min.as_secs_f64(),
                width: max.as_secs_f64() - min.as_secs_f64(),
            },
        }
    }
}

/// The standard normal quantile function, by Acklam's rational approximation (relative error
/// below 1.2e-9 over (0, 1)); infinite at 0 and 1.
pub(crate) fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn lognormal_params(median: Duration, p99: Duration) -> (f64, f64) {
    let m = median.as_secs_f64();
    let q = p99.as_secs_f64();
    (m.ln(), (q / m).ln() / Z99)
}

/// A duration distribution ready to draw from, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Always this many seconds.
    Fixed(f64),
    /// Exponential with this mean.
    Exponential(f64),
    /// exp(mu + sigma * Z) for a standard normal Z.
    Lognormal {
        /// Location (log of the median).
        mu: f64,
        /// Scale.
        sigma: f64,
    },
    /// lo + width * U.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Width of the interval.
        width: f64,
    },
}

impl Sampler {
    /// Draws one duration in seconds.
    #[inline]
    pub fn sample_secs<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Sampler::Fixed(v) => v,
            Sampler::Exponential(mean) => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            Sampler::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Sampler::Uniform { lo, width } => lo + width * rng.random::<f64>(),
        }
    }

    /// Draws one duration.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        Duration::from_secs_f64(self.sample_secs(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[derive(Deserialize)]
    struct Doc {
        d: DurationDist,
    }

    fn parse(s: &str) -> Result<DurationDist, toml::de::Error> {
        toml::from_str::<Doc>(s).map(|d| d.d)
    }

    #[test]
    fn plain_durations_are_fixed_and_tables_name_the_distribution() {
        assert_eq!(
            parse(r#"d = "200ms""#).expect("fixed"),
            DurationDist::fixed(Duration::from_millis(200))
        );
        let ln = parse(r#"d = { dist = "lognormal", median = "200ms", p99 = "1s" }"#).expect("ln");
        assert!(matches!(ln, DurationDist::Lognormal { .. }));
        assert!(parse(r#"d = { dist = "lognormal", median = "2s", p99 = "1s" }"#).is_err());
        assert!(parse(r#"d = { dist = "pareto", mean = "1s" }"#).is_err());
        assert!(parse(r#"d = { dist = "exponential", mean = "1s", extra = 1 }"#).is_err());
    }

    #[test]
    fn lognormal_sampler_hits_its_median_and_p99() {
        let d = DurationDist::Lognormal {
            median: Duration::from_millis(200),
            p99: Duration::from_millis(1000),
        };
        let s = d.sampler();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let mut xs: Vec<f64> = (0..200_000).map(|_| s.sample_secs(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[xs.len() / 2];
        let p99 = xs[xs.len() * 99 / 100];
        assert!((median - 0.2).abs() / 0.2 < 0.02, "median {median}");
        assert!((p99 - 1.0).abs() < 0.05, "p99 {p99}");
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(
            (mean - d.mean_secs()).abs() / d.mean_secs() < 0.02,
            "mean {mean}"
        );
    }

    #[test]
    fn quantiles_match_each_distribution() {
        let ms = Duration::from_millis;
        let ln = DurationDist::Lognormal {
            median: ms(80),
            p99: ms(300),
        };
        assert!((ln.quantile_secs(0.5) - 0.08).abs() < 1e-9);
        assert!((ln.quantile_secs(0.99) - 0.3).abs() < 1e-9);
        let exp = DurationDist::Exponential { mean: ms(100) };
        assert!((exp.quantile_secs(0.99) - 0.1 * 100f64.ln()).abs() < 1e-12);
        let uni = DurationDist::Uniform {
            min: ms(100),
            max: ms(300),
        };
        assert!((uni.quantile_secs(0.25) - 0.15).abs() < 1e-12);
        assert_eq!(DurationDist::fixed(ms(200)).quantile_secs(0.99), 0.2);
        // The normal quantiles the approximation must reproduce (both tails and the middle).
        for (p, z) in [(0.001, -3.090_232_306), (0.3, -0.524_400_513), (0.99, Z99)] {
            assert!((inverse_normal_cdf(p) - z).abs() < 1e-8, "{p}");
        }
    }
}
