//! LLM serving in a scenario: how many tokens requests carry (`[traffic.tokens]`) and how a
//! replica turns them into time (`[service.llm]`, the token model).
//!
//! The token model is the shape of a continuous-batching server (vLLM, TGI, SGLang): a replica
//! runs decode *steps*; each step produces one token for every sequence in its batch and takes
//! `step + step_per_sequence x batch`, plus `prefill_per_token` for every prompt token of the
//! sequences that join the batch at that step (their first token comes at the end of it). A
//! sequence joins when the batch has fewer than `max_batch` sequences and the KV cache has room
//! for its prompt and its whole output (`kv_cache_tokens` per replica, reserved when it joins,
//! freed when it ends); the rest wait, in order. The model crate steps it; this module holds
//! the settings and the arithmetic both hosts and the docs' worked example share.

use std::fmt;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::dist::Z99;
use crate::units::Duration;

/// The largest token count a request may carry (prompt or output).
pub const MAX_TOKENS: u32 = 1 << 20;

/// The prompt and output lengths of one request, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt (context) tokens.
    pub prompt: u32,
    /// Output (generated) tokens; at least 1.
    pub output: u32,
}

/// A distribution of token counts as written in a scenario: a plain integer (fixed) or a table
/// naming the distribution. Draws are rounded to whole tokens and kept within
/// `[1, MAX_TOKENS]` (and within `max` where the distribution has one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum CountDist {
    /// Always the same count.
    Fixed {
        /// The count.
        value: u32,
    },
    /// Uniform on the integers `min..=max`.
    Uniform {
        /// The smallest count.
        min: u32,
        /// The largest count.
        max: u32,
    },
    /// Log-normal, set by its median and 99th percentile (the usual shape of prompt and
    /// output lengths), cut at `max`.
    Lognormal {
        /// The median.
        median: u32,
        /// The 99th percentile; above the median.
        p99: u32,
        /// No draw exceeds this.
        max: u32,
    },
    /// Exponential (geometric in whole tokens) with the given mean, cut at `max`.
    Exponential {
        /// The mean.
        mean: u32,
        /// No draw exceeds this.
        max: u32,
    },
}

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum Tagged {
    Fixed {
        value: u32,
    },
    Uniform {
        min: u32,
        max: u32,
    },
    Lognormal {
        median: u32,
        p99: u32,
        #[serde(default)]
        max: Option<u32>,
    },
    Exponential {
        mean: u32,
        #[serde(default)]
        max: Option<u32>,
    },
}

impl<'de> Deserialize<'de> for CountDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CountDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a token count (512) or a table such as { dist = \"lognormal\", median = 512, p99 = 4096 } \
                     (dist: fixed, uniform, lognormal, exponential)",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CountDist, E> {
                match u32::try_from(v) {
                    Ok(value) => CountDist::checked(Tagged::Fixed { value }).map_err(E::custom),
                    Err(_) => Err(E::custom(format!(
                        "a token count must be between 1 and {MAX_TOKENS}, found {v}"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CountDist, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CountDist, A::Error> {
                let t = Tagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                CountDist::checked(t).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl CountDist {
    fn checked(t: Tagged) -> Result<CountDist, String> {
        let in_range = |what: &str, v: u32| {
            if (1..=MAX_TOKENS).contains(&v) {
                Ok(v)
            } else {
                Err(format!(
                    "{what} must be between 1 and {MAX_TOKENS} tokens, found {v}"
                ))
            }
        };
        Ok(match t {
            Tagged::Fixed { value } => CountDist::Fixed {
                value: in_range("a token count", value)?,
            },
            Tagged::Uniform { min, max } => {
                let (min, max) = (in_range("min", min)?, in_range("max", max)?);
                if max < min {
                    return Err(format!(
                        "a uniform needs min <= max, found min {min} and max {max}"
                    ));
                }
                CountDist::Uniform { min, max }
            }
            Tagged::Lognormal { median, p99, max } => {
                let (median, p99) = (in_range("median", median)?, in_range("p99", p99)?);
                if p99 <= median {
                    return Err(format!(
                        "a lognormal needs median < p99, found median {median} and p99 {p99}"
                    ));
                }
                let max = in_range("max", max.unwrap_or(MAX_TOKENS))?;
                if max < median {
                    return Err(format!(
                        "max {max} is below the median {median}: most draws would be cut"
                    ));
                }
                CountDist::Lognormal { median, p99, max }
            }
            Tagged::Exponential { mean, max } => {
                let mean = in_range("mean", mean)?;
                let max = in_range("max", max.unwrap_or(MAX_TOKENS))?;
                if max < mean {
                    return Err(format!("max {max} is below the mean {mean}"));
                }
                CountDist::Exponential { mean, max }
            }
        })
    }

    /// A fixed count.
    pub fn fixed(value: u32) -> Self {
        CountDist::Fixed { value }
    }

    /// The mean count (of the distribution as drawn: rounded and cut), estimated in closed
    /// form where there is one and by quadrature of the quantile function otherwise.
    pub fn mean(&self) -> f64 {
        match *self {
            CountDist::Fixed { value } => value as f64,
            CountDist::Uniform { min, max } => (min as f64 + max as f64) / 2.0,
            CountDist::Lognormal { .. } | CountDist::Exponential { .. } => {
                // The midpoint rule over 4,000 quantiles: within a fraction of a token for
                // these shapes, and exact for the cut, which a closed form would miss.
                const N: u32 = 4000;
                (0..N)
                    .map(|i| self.quantile((i as f64 + 0.5) / N as f64) as f64)
                    .sum::<f64>()
                    / N as f64
            }
        }
    }

    /// The count at quantile `q` (0-1).
    pub fn quantile(&self, q: f64) -> u32 {
        let q = q.clamp(0.0, 1.0);
        match *self {
            CountDist::Fixed { value } => value,
            CountDist::Uniform { min, max } => {
                let span = (max - min) as f64 + 1.0;
                (min as f64 + (q * span).floor()).min(max as f64) as u32
            }
            CountDist::Lognormal { median, p99, max } => {
                let (mu, sigma) = lognormal(median, p99);
                whole((mu + sigma * crate::dist::inverse_normal_cdf(q)).exp(), max)
            }
            CountDist::Exponential { mean, max } => whole(-(mean as f64) * (1.0 - q).ln(), max),
        }
    }

    /// Draws one count.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match *self {
            CountDist::Fixed { value } => value,
            CountDist::Uniform { min, max } => rng.random_range(min..=max),
            CountDist::Lognormal { median, p99, max } => {
                let (mu, sigma) = lognormal(median, p99);
                let z: f64 = StandardNormal.sample(rng);
                whole((mu + sigma * z).exp(), max)
            }
            CountDist::Exponential { mean, max } => {
                let e: f64 = Exp1.sample(rng);
                whole(mean as f64 * e, max)
            }
        }
    }
}

fn lognormal(median: u32, p99: u32) -> (f64, f64) {
    let m = median as f64;
    (m.ln(), (p99 as f64 / m).ln() / Z99)
}

/// A real draw as a whole token count in `[1, max]`.
#[inline]
fn whole(x: f64, max: u32) -> u32 {
    if x.is_nan() {
        return 1;
    }
    x.round().clamp(1.0, max as f64) as u32
}

/// `[traffic.tokens]`: the prompt and output lengths of requests made up by the scenario (a
/// trace that carries token counts brings its own).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLengths {
    /// Prompt tokens per request.
    pub prompt: CountDist,
    /// Output tokens per request.
    pub output: CountDist,
}

impl TokenLengths {
    /// One request's lengths.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Tokens {
        Tokens {
            prompt: self.prompt.sample(rng),
            output: self.output.sample(rng),
        }
    }
}

/// `[service.llm]`: the token model of one replica (see the module's description).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenModel {
    /// Prefill time per prompt token (added to the step in which the sequence joins).
    pub prefill_per_token: Duration,
    /// The time of one decode step with a single sequence in the batch.
    pub step: Duration,
    /// What each further sequence in the batch adds to a step.
    #[serde(default)]
    pub step_per_sequence: Duration,
    /// The most sequences decoded together.
    pub max_batch: u32,
    /// Tokens of KV cache one replica holds: a sequence reserves its prompt and its whole
    /// output when it joins the batch.
    pub kv_cache_tokens: u64,
}

impl TokenModel {
    /// The time of one decode step with `batch` sequences, before prefill, ns.
    #[inline]
    pub fn step_ns(&self, batch: u32) -> u64 {
        self.step.as_nanos() + self.step_per_sequence.as_nanos() * u64::from(batch.max(1) - 1)
    }

    /// The prefill time of `prompt` tokens, ns.
    #[inline]
    pub fn prefill_ns(&self, prompt: u32) -> u64 {
        self.prefill_per_token.as_nanos() * u64::from(prompt)
    }

    /// How long one request takes alone on an idle replica of speed 1: its prefill and first
    /// token in one step, then one step per further token.
    pub fn alone_ns(&self, t: Tokens) -> u64 {
        self.prefill_ns(t.prompt) + self.step_ns(1) * u64::from(t.output.max(1))
    }

    /// The KV-cache tokens a request reserves.
    #[inline]
    pub fn kv_tokens(t: Tokens) -> u64 {
        u64::from(t.prompt) + u64::from(t.output)
    }

    /// The steady batch a replica runs at saturation for requests of mean lengths
    /// `(prompt, output)`: `max_batch`, or fewer when the KV cache holds fewer such requests.
    pub fn saturated_batch(&self, prompt: f64, output: f64) -> f64 {
        let per = (prompt + output).max(1.0);
        (self.max_batch as f64).min((self.kv_cache_tokens as f64 / per).floor().max(1.0))
    }

    /// Requests per second one replica of speed 1 completes at saturation for requests of
    /// mean lengths `(prompt, output)`: with `b` sequences in the batch, `b / output` of them
    /// join per step on average, so a step takes `step(b) + (b / output) x prompt x prefill`,
    /// and `b / output` requests end per step.
    pub fn capacity_rps(&self, prompt: f64, output: f64) -> f64 {
        let output = output.max(1.0);
        let b = self.saturated_batch(prompt, output);
        let joins = b / output;
        let step_s = (self.step.as_secs_f64()
            + self.step_per_sequence.as_secs_f64() * (b - 1.0).max(0.0))
            + joins * prompt * self.prefill_per_token.as_secs_f64();
        if step_s > 0.0 { joins / step_s } else { 0.0 }
    }

    /// Checks the settings; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.step.is_zero() {
            return Err("service.llm.step must be longer than zero".into());
        }
        if self.max_batch == 0 || self.max_batch > crate::scenario::MAX_CONCURRENCY {
            return Err(format!(
                "service.llm.max_batch must be between 1 and {}, found {}",
                crate::scenario::MAX_CONCURRENCY,
                self.max_batch
            ));
        }
        if self.kv_cache_tokens == 0 {
            return Err("service.llm.kv_cache_tokens must be above zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[derive(Deserialize)]
    struct Doc {
        d: CountDist,
    }

    fn parse(s: &str) -> Result<CountDist, String> {
        toml::from_str::<Doc>(s)
            .map(|d| d.d)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn counts_parse_as_integers_or_tables_and_bad_ones_say_why() {
        assert_eq!(parse("d = 512"), Ok(CountDist::fixed(512)));
        assert_eq!(
            parse(r#"d = { dist = "lognormal", median = 512, p99 = 4096 }"#),
            Ok(CountDist::Lognormal {
                median: 512,
                p99: 4096,
                max: MAX_TOKENS
            })
        );
        for (bad, says) in [
            ("d = 0", "between 1 and"),
            ("d = -3", "between 1 and"),
            (
                r#"d = { dist = "uniform", min = 10, max = 5 }"#,
                "min <= max",
            ),
            (
                r#"d = { dist = "lognormal", median = 500, p99 = 400 }"#,
                "median < p99",
            ),
            (
                r#"d = { dist = "lognormal", median = 500, p99 = 900, max = 100 }"#,
                "below the median",
            ),
            (r#"d = { dist = "zipf", s = 1 }"#, "unknown variant"),
            (r#"d = "512""#, "a token count (512)"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn draws_stay_whole_and_within_their_bounds_and_hit_the_quantiles() {
        let d = CountDist::Lognormal {
            median: 200,
            p99: 2000,
            max: 3000,
        };
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut xs: Vec<u32> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        assert!(xs.iter().all(|&x| (1..=3000).contains(&x)));
        xs.sort_unstable();
        let median = xs[xs.len() / 2];
        assert!((195..=205).contains(&median), "median {median}");
        assert_eq!(d.quantile(0.5), 200);
        assert_eq!(d.quantile(0.99), 2000);
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        assert!(
            (mean - d.mean()).abs() / d.mean() < 0.02,
            "{mean} vs {}",
            d.mean()
        );
        let u = CountDist::Uniform { min: 3, max: 5 };
        assert_eq!(
            [u.quantile(0.0), u.quantile(0.5), u.quantile(1.0)],
            [3, 4, 5]
        );
        assert!((0..1000).all(|_| (3..=5).contains(&u.sample(&mut rng))));
    }

    /// The worked example of docs/llm.md, computed by hand there.
    #[test]
    fn the_token_models_arithmetic_is_the_docs_worked_example() {
        let m = TokenModel {
            prefill_per_token: Duration::from_nanos(100_000),
            step: Duration::from_millis(20),
            step_per_sequence: Duration::from_nanos(250_000),
            max_batch: 32,
            kv_cache_tokens: 16_384,
        };
        let t = Tokens {
            prompt: 400,
            output: 100,
        };
        // Alone: 400 x 0.1 ms prefill + 100 steps of 20 ms.
        assert_eq!(m.alone_ns(t), 40_000_000 + 2_000_000_000);
        assert_eq!(m.step_ns(32), 20_000_000 + 31 * 250_000);
        // 16,384 / 500 = 32.8: the KV cache holds 32 such requests, as does the batch.
        assert_eq!(m.saturated_batch(400.0, 100.0), 32.0);
        // Per step: 0.32 joins x 400 x 0.1 ms = 12.8 ms prefill + 27.75 ms decode = 40.55 ms;
        // 0.32 requests end per step: 7.891 requests/s, 789 output tokens/s.
        let rps = m.capacity_rps(400.0, 100.0);
        assert!((rps - 0.32 / 0.040_55).abs() < 1e-9, "{rps}");
        // With 1,000-token prompts the KV cache, not the batch, limits: 16,384 / 1,100 = 14.
        assert_eq!(m.saturated_batch(1000.0, 100.0), 14.0);
        // llm-trace.toml's model at the Azure conversation trace's mean lengths: 4.6 req/s.
        let m = TokenModel {
            prefill_per_token: Duration::from_nanos(50_000),
            step: Duration::from_millis(15),
            step_per_sequence: Duration::from_nanos(300_000),
            max_batch: 32,
            kv_cache_tokens: 60_000,
        };
        assert_eq!(m.saturated_batch(1155.0, 211.0), 32.0);
        let joins = 32.0 / 211.0;
        let step = 0.015 + 0.0003 * 31.0 + joins * 1155.0 * 0.000_05;
        assert!((m.capacity_rps(1155.0, 211.0) - joins / step).abs() < 1e-9);
        assert!((m.capacity_rps(1155.0, 211.0) - 4.59).abs() < 0.01);
    }
}
