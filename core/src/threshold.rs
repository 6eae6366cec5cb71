//! Gate expressions: k6-like thresholds (`p99<2000`, `p95<=800ms`, `error_rate<1%`,
//! `hpa-default:slo_attainment>=0.99`) and relative regression limits against a baseline
//! (`p99=10%,cost=5%`), parsed with messages that say what was expected and where.
//!
//! Values are stored in each figure's report unit: latency in ms, fractions from 0 to 1,
//! seconds, dollars, GPU-hours, counts.

use std::fmt;

use serde::Serialize;

use crate::figure::{Figure, Unit};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==` (equal within a relative 1e-9)
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    /// Whether `actual OP limit` holds.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => (actual - limit).abs() <= 1e-9 * actual.abs().max(limit.abs()),
        }
    }

    /// The comparison that holds when this one fails, for reasons (`<` fails as `>=`).
    pub fn negated(self) -> &'static str {
        match self {
            Op::Lt => ">=",
            Op::Le => ">",
            Op::Gt => "<=",
            Op::Ge => "<",
            Op::Eq => "!=",
        }
    }
}

/// `[SETUP:]FIGURE OP VALUE[UNIT]`: a limit on one figure of one setup, or of every setup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The setup it applies to; every setup when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// The figure.
    pub figure: Figure,
    /// The comparison that must hold.
    pub op: Op,
    /// The limit, in the figure's report unit (ms, fraction, s, $, GPU-h, count).
    pub value: f64,
    /// The expression as written (trimmed).
    pub text: String,
}

/// `[SETUP:]FIGURE=N%`: how much worse than the baseline a figure may get.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionLimit {
    /// The setup it applies to; every setup when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// The figure.
    pub figure: Figure,
    /// The largest relative change for the worse, as a fraction (10% is 0.1).
    pub max: f64,
    /// The limit as written (trimmed).
    pub text: String,
}

/// Why an expression was not understood: what was expected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExprError {
    /// The expression.
    pub text: String,
    /// Byte offset in `text` where the problem is.
    pub offset: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.text[..crate::error::floor_char_boundary(&self.text, self.offset)]
            .chars()
            .count()
            + 1;
        write!(f, "{:?}, column {column}: {}", self.text, self.message)
    }
}

impl Threshold {
    /// Parses `[SETUP:]FIGURE OP VALUE[UNIT]`, e.g. `p99<2000`, `p95<=800ms`, `p99<2s`,
    /// `error_rate<1%`, `cost_per_1k<0.40`, `hpa-default:slo_attainment>=0.99`. Spaces around
    /// the parts are allowed.
    pub fn parse(text: &str) -> Result<Threshold, ExprError> {
        let err = |offset: usize, message: String| ExprError {
            text: text.to_string(),
            offset,
            message,
        };
        let Some(op_at) = text.find(['<', '>', '=', '!']) else {
            return Err(err(
                text.len(),
                "expected a comparison (<, <=, >, >=, ==) and a value, as in p99<2000 or error_rate<1%"
                    .into(),
            ));
        };
        let rest = &text[op_at..];
        let (op, op_len) = if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with("==") {
            (Op::Eq, 2)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else if rest.starts_with("!=") {
            return Err(err(
                op_at,
                "!= is not supported; use <, <=, >, >= or ==".into(),
            ));
        } else {
            return Err(err(
                op_at,
                "expected <, <=, >, >= or == (use == for equality)".into(),
            ));
        };
        let (setup, figure) = target(0, &text[..op_at]).map_err(|(o, m)| err(o, m))?;
        let value_at = op_at + op_len;
        let value = value_of(figure, text, value_at).map_err(|(o, m)| err(o, m))?;
        Ok(Threshold {
            setup,
            figure,
            op,
            value,
            text: text.trim().to_string(),
        })
    }

    /// Whether `actual` meets it.
    pub fn holds(&self, actual: f64) -> bool {
        self.op.holds(actual, self.value)
    }
}

impl RegressionLimit {
    /// Parses a comma-separated list of `[SETUP:]FIGURE=N%`, e.g. `p99=10%,cost=5%`.
    pub fn parse_list(text: &str) -> Result<Vec<RegressionLimit>, ExprError> {
        let err = |offset: usize, message: String| ExprError {
            text: text.to_string(),
            offset,
            message,
        };
        let mut out = Vec::new();
        let mut start = 0;
        for part in text.split(',') {
            let at = start;
            start += part.len() + 1;
            if part.trim().is_empty() {
                return Err(err(
                    at,
                    "expected FIGURE=N% (e.g. p99=10%) between the commas".into(),
                ));
            }
            let Some(eq) = part.find('=') else {
                return Err(err(
                    at + part.len(),
                    "expected =N% after the figure, as in p99=10%".into(),
                ));
            };
            let (setup, figure) = target(at, &part[..eq]).map_err(|(o, m)| err(o, m))?;
            let value = part[eq + 1..].trim();
            let value_at = at + eq + 1 + (part[eq + 1..].len() - part[eq + 1..].trim_start().len());
            let Some(number) = value.strip_suffix('%') else {
                return Err(err(
                    value_at,
                    format!("expected a percentage such as 10%, found {value:?}"),
                ));
            };
            let pct: f64 = number
                .trim()
                .trim_start_matches('+')
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    err(
                        value_at,
                        format!(
                            "expected a percentage of zero or more, such as 10%, found {value:?}"
                        ),
                    )
                })?;
            out.push(RegressionLimit {
                setup,
                figure,
                max: pct / 100.0,
                text: part.trim().to_string(),
            });
        }
        Ok(out)
    }
}

/// `[SETUP:]FIGURE` at byte `at` of `text`: the setup (if named) and the figure.
fn target(at: usize, part: &str) -> Result<(Option<String>, Figure), (usize, String)> {
    let lead = part.len() - part.trim_start().len();
    let (setup, name, name_at) = match part.rsplit_once(':') {
        Some((setup, name)) => {
            let setup = setup.trim();
            if setup.is_empty() {
                return Err((at + lead, "expected a setup name before ':'".into()));
            }
            // Just past the ':' (whatever spaces surround the setup name).
            let name_at = at + part.len() - name.len();
            (Some(setup.to_string()), name, name_at)
        }
        None => (None, part, at),
    };
    let name_at = name_at + (name.len() - name.trim_start().len());
    let name = name.trim();
    if name.is_empty() {
        return Err((
            name_at,
            "expected a figure (e.g. p99, error_rate, cost_per_1k) before the comparison".into(),
        ));
    }
    let figure = Figure::from_name(name).ok_or_else(|| {
        (
            name_at,
            format!("unknown figure {name:?}; figures: {}", Figure::list()),
        )
    })?;
    Ok((setup, figure))
}

/// The value at byte `at` of `text`, converted to `figure`'s report unit.
fn value_of(figure: Figure, text: &str, at: usize) -> Result<f64, (usize, String)> {
    let raw = &text[at..];
    let at = at + (raw.len() - raw.trim_start().len());
    let raw = raw.trim();
    if raw.is_empty() {
        return Err((
            at,
            format!(
                "expected a value after the comparison, in {}",
                figure.unit().suffixes()
            ),
        ));
    }
    let (dollar, body) = match raw.strip_prefix('$') {
        Some(b) => (true, b),
        None => (false, raw),
    };
    let bytes = body.as_bytes();
    let mut end = 0;
    while end < bytes.len() {
        let c = bytes[end] as char;
        let exponent = (c == 'e' || c == 'E')
            && bytes
                .get(end + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+');
        if c.is_ascii_digit() || c == '.' || (end == 0 && (c == '-' || c == '+')) || exponent {
            end += if exponent { 2 } else { 1 };
        } else {
            break;
        }
    }
    let number = &body[..end];
    let suffix = body[end..].trim();
    let v: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| (at, format!("expected a number, found {raw:?}")))?;
    let unit = figure.unit();
    if dollar && unit != Unit::Usd {
        return Err((
            at,
            format!("{figure} is not money; write {}", unit.suffixes()),
        ));
    }
    let bad_unit = || {
        (
            at + usize::from(dollar) + end,
            format!("{figure} takes {}, found unit {suffix:?}", unit.suffixes()),
        )
    };
    let value = match (unit, suffix) {
        (Unit::Millis, "" | "ms") => v,
        (Unit::Millis, "s") => v * 1e3,
        (Unit::Millis, "us" | "µs") => v / 1e3,
        (Unit::Millis, "m" | "min") => v * 60e3,
        (Unit::Seconds, "" | "s") => v,
        (Unit::Seconds, "ms") => v / 1e3,
        (Unit::Seconds, "m" | "min") => v * 60.0,
        (Unit::Seconds, "h") => v * 3600.0,
        (Unit::Fraction, "%") => v / 100.0,
        (Unit::Fraction, "") if v > 1.0 => {
            return Err((
                at,
                format!(
                    "{figure} is a fraction from 0 to 1: write {} or {v}%",
                    v / 100.0
                ),
            ));
        }
        (Unit::Fraction, "") => v,
        (Unit::Hours, "" | "h") => v,
        (Unit::Usd | Unit::Count, "") => v,
        (Unit::PerSecond, "" | "/s") => v,
        _ => return Err(bad_unit()),
    };
    Ok(value)
}

/// A scenario's gate: its thresholds, regression limits and confidence level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateSpec {
    /// `thresholds = [...]`: checked by `scalebench run` and `scalebench gate`.
    pub thresholds: Vec<Threshold>,
    /// `[gate] max_regression = [...]`: used by `scalebench gate --baseline` when no
    /// `--max-regression` is given.
    pub max_regression: Vec<RegressionLimit>,
    /// `[gate] confidence`: the level at which a regression must be significant (0.95).
    pub confidence: f64,
}

/// The default confidence level of gates and repeat intervals.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

impl Default for GateSpec {
    fn default() -> Self {
        GateSpec {
            thresholds: Vec::new(),
            max_regression: Vec::new(),
            confidence: DEFAULT_CONFIDENCE,
        }
    }
}

impl GateSpec {
    /// True when it holds no check.
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty() && self.max_regression.is_empty()
    }
}

/// Checks a confidence level: above 0.5 and at most 0.999999999 (closer to 1, its interval rounds away).
pub fn check_confidence(level: f64) -> Result<(), String> {
    // Closer to 1 than this, the interval's quantile 1 - (1 - level) / 2 rounds to 1 and every
    // interval would be NaN; no run count could support such a level anyway.
    const MAX: f64 = 0.999_999_999;
    if level > 0.5 && level <= MAX {
        Ok(())
    } else {
        Err(format!(
            "confidence must be above 0.5 and at most {MAX} (e.g. 0.95), found {level}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confidence_whose_interval_would_round_to_one_is_refused() {
        assert!(check_confidence(0.95).is_ok());
        assert!(check_confidence(0.999_999_999).is_ok());
        // 1 - (1 - c) / 2 rounds to exactly 1 for this c: every interval would be NaN.
        assert!(check_confidence(0.999_999_999_999_999_9).is_err());
        assert!(check_confidence(1.0).is_err() && check_confidence(0.5).is_err());
        assert!(check_confidence(f64::NAN).is_err());
    }

    fn ok(text: &str) -> Threshold {
        Threshold::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn bad(text: &str) -> String {
        match Threshold::parse(text) {
            Ok(t) => panic!("{text} parsed as {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_point_past_the_colon_whatever_spaces_and_characters_precede_it() {
        // A no-break space before ':' once put the offset inside a character (a panic).
        assert!(
            bad("hpa\u{a0}:p98<2").contains("column 6"),
            "{}",
            bad("hpa\u{a0}:p98<2")
        );
        assert!(
            bad("hpa :p98<2").contains("column 6"),
            "{}",
            bad("hpa :p98<2")
        );
        assert!(
            bad("héé:p98<2").contains("column 5"),
            "{}",
            bad("héé:p98<2")
        );
    }

    #[test]
    fn thresholds_parse_with_their_units() {
        let t = ok("p99<2000");
        assert_eq!(
            (t.setup, t.figure, t.op, t.value),
            (None, Figure::P99, Op::Lt, 2000.0)
        );
        assert_eq!(ok("p95<=800ms").value, 800.0);
        assert_eq!(ok("p99 < 2s").value, 2000.0);
        assert_eq!(ok("p99.9<1.5s").figure, Figure::P999);
        assert!((ok("error_rate<1%").value - 0.01).abs() < 1e-12);
        assert_eq!(ok("error_rate<0.01").value, 0.01);
        assert_eq!(ok("cost_per_1k<0.40").value, 0.40);
        assert_eq!(ok("cost<$12").value, 12.0);
        let t = ok("slo_attainment>=0.99");
        assert_eq!((t.op, t.value), (Op::Ge, 0.99));
        let t = ok("hpa-default:p99<2000");
        assert_eq!(t.setup.as_deref(), Some("hpa-default"));
        assert_eq!(t.text, "hpa-default:p99<2000");
        assert_eq!(ok("violation_s<=1m").value, 60.0);
        assert_eq!(ok("max_replicas==20").op, Op::Eq);
        assert_eq!(ok("p99<1e3").value, 1000.0);
        let t = ok("ttft_p99<500ms");
        assert_eq!((t.figure, t.op, t.value), (Figure::TtftP99, Op::Lt, 500.0));
        assert_eq!(ok("ttft.p99<0.5s").value, 500.0);
        assert!((ok("goodput>=95%").value - 0.95).abs() < 1e-12);
        assert_eq!(ok("tokens_per_s>=1200/s").value, 1200.0);
        assert_eq!(ok("llm:goodput_rps>10").setup.as_deref(), Some("llm"));
        assert!(ok("p99<2000").holds(1999.0));
        assert!(!ok("p99<2000").holds(2000.0));
    }

    #[test]
    fn bad_thresholds_say_what_was_expected_and_where() {
        let e = bad("p99");
        assert!(e.contains("expected a comparison"), "{e}");
        let e = bad("p98<2000");
        assert!(
            e.contains("column 1") && e.contains("unknown figure \"p98\""),
            "{e}"
        );
        assert!(e.contains("p99"), "lists the figures: {e}");
        let e = bad("p99<");
        assert!(e.contains("expected a value"), "{e}");
        let e = bad("p99<fast");
        assert!(
            e.contains("column 5") && e.contains("expected a number"),
            "{e}"
        );
        let e = bad("p99<2kb");
        assert!(
            e.contains("column 6") && e.contains("ms (the default) or s"),
            "{e}"
        );
        let e = bad("error_rate<5");
        assert!(
            e.contains("fraction from 0 to 1") && e.contains("5%"),
            "{e}"
        );
        let e = bad("p99=2000");
        assert!(e.contains("=="), "{e}");
        let e = bad("p99!=2000");
        assert!(e.contains("not supported"), "{e}");
        let e = bad(":p99<2");
        assert!(e.contains("setup name"), "{e}");
        let e = bad("<2");
        assert!(e.contains("expected a figure"), "{e}");
        let e = bad("cost<2ms");
        assert!(e.contains("plain number"), "{e}");
        let e = bad("tokens_per_s>5ms");
        assert!(e.contains("per second"), "{e}");
    }

    #[test]
    fn regression_limits_parse_as_fractions() {
        let l = RegressionLimit::parse_list("p99=10%, cost=5%,hpa:error_rate=+50%")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.len(), 3);
        assert_eq!((l[0].figure, l[0].max), (Figure::P99, 0.1));
        assert_eq!((l[1].figure, l[1].max), (Figure::Cost, 0.05));
        assert_eq!(l[2].setup.as_deref(), Some("hpa"));
        assert_eq!(l[2].max, 0.5);
        for (text, needle) in [
            ("p99=10", "expected a percentage such as 10%"),
            ("p99", "expected =N%"),
            ("p99=10%,", "between the commas"),
            ("p98=10%", "unknown figure"),
            ("p99=-5%", "zero or more"),
        ] {
            match RegressionLimit::parse_list(text) {
                Ok(l) => panic!("{text} parsed as {l:?}"),
                Err(e) => assert!(e.to_string().contains(needle), "{text}: {e}"),
            }
        }
        let e = RegressionLimit::parse_list("p99=10%,cost=5")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("column 14"), "{e}");
    }
}
