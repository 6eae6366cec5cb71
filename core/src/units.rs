//! Units a scenario is written in: durations such as `90s`, `5m` or `1h30m`, and request rates given
//! either in requests per second or as a share of capacity (`"50%"`).
//!
//! Both parse inside serde, so a bad value is reported by the TOML parser with the exact line and
//! column of the value.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const NANOS_PER_SEC: f64 = 1e9;

/// A non-negative span of scenario time, stored as whole nanoseconds so that sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Duration {
    /// The empty duration.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        Duration(nanos)
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms * 1_000_000)
    }

    /// A duration of `secs` whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration(secs * 1_000_000_000)
    }

    /// A duration of `secs` seconds, rounded to the nearest nanosecond; negative or non-finite
    /// input gives zero.
    pub fn from_secs_f64(secs: f64) -> Self {
        if secs.is_finite() && secs > 0.0 {
            Duration((secs * NANOS_PER_SEC).round() as u64)
        } else {
            Duration(0)
        }
    }

    /// Whole nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC
    }

    /// Milliseconds as a float.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// True for the empty duration.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl From<Duration> for std::time::Duration {
    /// The same length, for timers and sleeps.
    fn from(d: Duration) -> std::time::Duration {
        std::time::Duration::from_nanos(d.0)
    }
}

impl fmt::Display for Duration {
    /// Formats in the same notation the parser reads, e.g. `1h30m`, `90s` becomes `1m30s`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        let units: [(u64, &str); 6] = [
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        for (size, unit) in units {
            if n >= size {
                write!(f, "{}{}", n / size, unit)?;
                n %= size;
            }
        }
        Ok(())
    }
}

/// Why a duration string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a duration such as \"250ms\", \"90s\", \"5m\", \"1h\" or \"1m30s\", found {found:?}"
)]
pub struct DurationParseError {
    found: String,
}

impl std::str::FromStr for Duration {
    type Err = DurationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DurationParseError {
            found: s.to_string(),
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err());
        }
        let mut total: f64 = 0.0;
        let mut rest = text;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(err)?;
            if num_len == 0 {
                return Err(err());
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "h" => 3600.0,
                "m" | "min" => 60.0,
                "s" => 1.0,
                "ms" => 1e-3,
                "us" | "µs" => 1e-6,
                "ns" => 1e-9,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total += value * scale;
        }
        if !total.is_finite() || total * NANOS_PER_SEC > u64::MAX as f64 {
            return Err(err());
        }
        Ok(Duration::from_secs_f64(total))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"90s\", \"5m\" or \"1h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v == 0 {
                    return Ok(Duration::ZERO);
                }
                Err(E::custom(format!(
                    "a duration needs a unit: write \"{v}s\" for seconds (or \"{v}ms\", \"{v}m\")"
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write \"{v}s\" for seconds"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A request rate as written in a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Requests per second.
    Rps(f64),
    /// A share of the service's capacity (0.5 for `"50%"`); resolved to requests per second
    /// once the capacity is known.
    OfCapacity(f64),
}

impl Rate {
    /// Requests per second, given the capacity in requests per second.
    pub fn resolve(self, capacity_rps: f64) -> f64 {
        match self {
            Rate::Rps(r) => r,
            Rate::OfCapacity(share) => share * capacity_rps,
        }
    }

    /// True when this rate needs the capacity to be known.
    pub fn needs_capacity(self) -> bool {
        matches!(self, Rate::OfCapacity(_))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::Rps(r) => s.serialize_f64(*r),
            Rate::OfCapacity(share) => s.collect_str(&format_args!("{}%", share * 100.0)),
        }
    }
}

/// Why a rate was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a rate in requests per second (e.g. 120 or \"120rps\") or a share of capacity (e.g. \"50%\"), found {found:?}"
)]
pub struct RateParseError {
    found: String,
}

impl std::str::FromStr for Rate {
    type Err = RateParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || RateParseError {
            found: s.to_string(),
        };
        let t = s.trim();
        let (num, pct) = if let Some(n) = t.strip_suffix('%') {
            (n.trim(), true)
        } else if let Some(n) = t.strip_suffix("rps") {
            (n.trim(), false)
        } else {
            (t, false)
        };
        let v: f64 = num.parse().map_err(|_| err())?;
        if !v.is_finite() || v < 0.0 {
            return Err(err());
        }
        Ok(if pct {
            Rate::OfCapacity(v / 100.0)
        } else {
            Rate::Rps(v)
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate: requests per second (120) or a share of capacity (\"50%\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(Rate::Rps(v))
                } else {
                    Err(E::custom(format!("a rate must be zero or more, found {v}")))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit_and_combination() {
        let cases = [
            ("90s", 90.0),
            ("5m", 300.0),
            ("1h", 3600.0),
            ("250ms", 0.25),
            ("1m30s", 90.0),
            ("1.5s", 1.5),
            ("2h15m", 8100.0),
            ("100us", 1e-4),
        ];
        for (text, secs) in cases {
            let d: Duration = text.parse().expect(text);
            assert!((d.as_secs_f64() - secs).abs() < 1e-12, "{text}");
        }
    }

    #[test]
    fn durations_reject_missing_or_unknown_units() {
        for bad in ["", "5", "5 minutes", "s", "1x", "-5s", "m5"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn durations_print_in_the_notation_they_parse_from() {
        for text in ["1h30m", "1m30s", "250ms", "0s", "2h"] {
            let d: Duration = text.parse().expect(text);
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn rates_parse_as_rps_or_share_of_capacity() {
        assert_eq!("50%".parse::<Rate>(), Ok(Rate::OfCapacity(0.5)));
        assert_eq!("120rps".parse::<Rate>(), Ok(Rate::Rps(120.0)));
        assert_eq!("7.5".parse::<Rate>(), Ok(Rate::Rps(7.5)));
        assert!("fast".parse::<Rate>().is_err());
        assert!("-3".parse::<Rate>().is_err());
        assert_eq!(Rate::OfCapacity(0.5).resolve(200.0), 100.0);
    }
}
