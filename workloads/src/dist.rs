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
}
