//! What a live driver sends for a request class: method, path, headers and a body whose fields
//! are filled in per request. A body is text with `{{...}}` fields:
//!
//! | field | becomes |
//! |---|---|
//! | `{{seq}}` | the request's position in the schedule (0, 1, ...) |
//! | `{{class}}` | the request class's name |
//! | `{{service_ms}}` | the request's service time on a speed-1 replica, in milliseconds to the nanosecond (`183.402117`): the scenario's draw for this arrival, the one the simulator serves it for (`null` where there is none: closed-loop users) |
//! | `{{int LO HI}}` | an integer drawn uniformly from `LO..=HI` |
//! | `{{float LO HI}}` | a number drawn uniformly from `[LO, HI)` |
//! | `{{choice A\|B\|C}}` | one of the alternatives, uniformly |
//! | `{{words LO HI}}` | `LO..=HI` words of filler text (a prompt of a given length) |
//! | `{{uuid}}` | a random version-4 UUID |
//!
//! The draws come from the request's position and the scenario's seed only, so a scenario
//! sends the same bodies on every run, however many threads send them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The `[traffic.class.request]` table: what a live driver sends for the class. Everything is
/// optional; what is not given comes from the target (`scalebench load`'s flags, or the
/// testbed's `POST /predict`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The HTTP method (POST when there is a body, else GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path and query, replacing the target URL's (e.g. `/v1/completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Extra headers; values may name environment variables (`Bearer ${API_KEY}`), read at
    /// start and never written to reports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A file holding the body template, relative to the scenario file; it is read when the
    /// scenario is, into `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<std::path::PathBuf>,
}

/// A parsed body template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Seq,
    Class,
    ServiceMs,
    Int(i64, i64),
    Float(f64, f64),
    Choice(Vec<String>),
    Words(u32, u32),
    Uuid,
}

/// Filler words for `{{words}}`: plain ASCII letters, safe inside a JSON string.
const WORDS: [&str; 32] = [
    "the", "model", "serves", "requests", "under", "load", "while", "replicas", "scale", "up",
    "and", "down", "with", "traffic", "spikes", "that", "test", "cold", "starts", "queues",
    "latency", "tails", "cost", "per", "token", "batch", "prompt", "cache", "warm", "pool", "spot",
    "node",
];

impl Template {
    /// Parses `text`; the error says which field is wrong and what was expected.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("{{") {
            if at > 0 {
                parts.push(Part::Text(rest[..at].to_string()));
            }
            let after = &rest[at + 2..];
            let end = after.find("}}").ok_or_else(|| {
                format!(
                    "a field opened with {{{{ is not closed: {:?}",
                    clip(&rest[at..])
                )
            })?;
            parts.push(field(after[..end].trim())?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// True when it has no fields: every request gets the same body.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Appends the body of request `seq` of class `class` to `out`; `seed` is the scenario's.
    /// `{{service_ms}}` becomes `null`: see [`Template::render_arrival`].
    pub fn render(&self, seed: u64, seq: u64, class: &str, out: &mut String) {
        self.render_arrival(seed, seq, class, None, out);
    }

    /// [`Template::render`] for a request of the schedule whose service time on a speed-1
    /// replica is `service_s` seconds (the arrival's `service_s`): `{{service_ms}}` becomes it
    /// in milliseconds, rounded to the nanosecond as the simulator rounds it (so that a JSON
    /// parser reads back exactly those nanoseconds), or `null` without one (or for one that is
    /// not finite).
    pub fn render_arrival(
        &self,
        seed: u64,
        seq: u64,
        class: &str,
        service_s: Option<f64>,
        out: &mut String,
    ) {
        let mut rng = SplitMix(seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5CA1_AB1E);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Seq => {
                    let _ = write!(out, "{seq}");
                }
                Part::Class => out.push_str(class),
                Part::ServiceMs => match service_s.filter(|s| s.is_finite()) {
                    Some(s) => write_ms(out, s),
                    None => out.push_str("null"),
                },
                Part::Int(lo, hi) => {
                    let span = (*hi as i128 - *lo as i128 + 1) as u128;
                    let v = *lo as i128 + (rng.next() as u128 % span) as i128;
                    let _ = write!(out, "{v}");
                }
                Part::Float(lo, hi) => {
                    let _ = write!(out, "{}", lo + (hi - lo) * rng.unit());
                }
                Part::Choice(options) => {
                    out.push_str(&options[(rng.next() % options.len() as u64) as usize]);
                }
                Part::Words(lo, hi) => {
                    let n = lo + (rng.next() % u64::from(hi - lo + 1)) as u32;
                    for i in 0..n {
                        if i > 0 {
                            out.push(' ');
                        }
                        out.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                    }
                }
                Part::Uuid => {
                    let (a, b) = (rng.next(), rng.next());
                    let _ = write!(
                        out,
                        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                        a >> 32,
                        (a >> 16) & 0xffff,
                        a & 0x0fff,
                        0x8000 | (b >> 48) & 0x3fff,
                        b & 0xffff_ffff_ffff
                    );
                }
            }
        }
    }
}

/// Writes `secs` in milliseconds to the nanosecond, without trailing zeros (`183.4021`, `200`).
fn write_ms(out: &mut String, secs: f64) {
    if secs < 0.0 {
        out.push('-');
    }
    // Saturates past 584 years.
    let ns = (secs.abs() * 1e9).round() as u64;
    let _ = write!(out, "{}", ns / 1_000_000);
    let frac = ns % 1_000_000;
    if frac > 0 {
        let digits = format!("{frac:06}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
}

fn clip(s: &str) -> &str {
    s.get(..s.len().min(30)).unwrap_or(s)
}

/// One `{{...}}` field.
fn field(f: &str) -> Result<Part, String> {
    let mut words = f.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let want = |n: usize, form: &str| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("{{{{{f}}}}}: expected {{{{{form}}}}}"))
        }
    };
    let num = |s: &str, form: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{{{{{f}}}}}: {s:?} is not a number; expected {{{{{form}}}}}"))
    };
    match name {
        "seq" => want(0, "seq").map(|()| Part::Seq),
        "class" => want(0, "class").map(|()| Part::Class),
        "service_ms" => want(0, "service_ms").map(|()| Part::ServiceMs),
        "uuid" => want(0, "uuid").map(|()| Part::Uuid),
        "int" => {
            want(2, "int LO HI")?;
            let (lo, hi) = (args[0].parse::<i64>(), args[1].parse::<i64>());
            match (lo, hi) {
                (Ok(lo), Ok(hi)) if lo <= hi => Ok(Part::Int(lo, hi)),
                _ => Err(format!(
                    "{{{{{f}}}}}: expected {{{{int LO HI}}}} with integers LO <= HI"
                )),
            }
        }
        "float" => {
            want(2, "float LO HI")?;
            let (lo, hi) = (num(args[0], "float LO HI")?, num(args[1], "float LO HI")?);
            if lo > hi {
                return Err(format!("{{{{{f}}}}}: expected LO <= HI"));
            }
            Ok(Part::Float(lo, hi))
        }
        "words" => {
            want(2, "words LO HI")?;
            match (args[0].parse::<u32>(), args[1].parse::<u32>()) {
                (Ok(lo), Ok(hi)) if lo <= hi && hi <= 1_000_000 => Ok(Part::Words(lo, hi)),
                _ => Err(format!(
                    "{{{{{f}}}}}: expected {{{{words LO HI}}}} with counts 0 <= LO <= HI <= 1000000"
                )),
            }
        }
        "choice" => {
            let rest = f["choice".len()..].trim();
            let options: Vec<String> = rest.split('|').map(|o| o.trim().to_string()).collect();
            if rest.is_empty() || options.iter().any(String::is_empty) {
                return Err(format!("{{{{{f}}}}}: expected {{{{choice A|B|...}}}}"));
            }
            Ok(Part::Choice(options))
        }
        _ => Err(format!(
            "unknown field {{{{{f}}}}}: expected seq, class, service_ms, int LO HI, float LO HI, choice A|B, words LO HI or uuid"
        )),
    }
}

/// A small, fast generator: SplitMix64.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, seq: u64) -> String {
        let mut out = String::new();
        match Template::parse(t) {
            Ok(t) => t.render(7, seq, "chat", &mut out),
            Err(e) => panic!("{e}"),
        }
        out
    }

    #[test]
    fn fields_are_filled_per_request_and_repeat_for_the_same_request() {
        let t = r#"{"id": {{seq}}, "c": "{{class}}", "n": {{int 16 256}}, "x": {{float 0 1}}, "m": "{{choice a|b}}", "p": "{{words 3 5}}", "u": "{{uuid}}"}"#;
        let a = render(t, 41);
        assert_eq!(a, render(t, 41), "the same request gets the same body");
        assert_ne!(a, render(t, 42));
        assert!(a.starts_with(r#"{"id": 41, "c": "chat", "n": "#), "{a}");
        let mut ns = std::collections::BTreeSet::new();
        for seq in 0..2000 {
            let body = render(t, seq);
            let n: i64 = body
                .split("\"n\": ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            assert!((16..=256).contains(&n), "{body}");
            ns.insert(n);
            let words = body
                .split("\"p\": \"")
                .nth(1)
                .and_then(|r| r.split('"').next());
            let count = words.map_or(0, |w| w.split(' ').count());
            assert!((3..=5).contains(&count), "{body}");
        }
        assert!(
            ns.len() > 200,
            "the draws spread over the range: {}",
            ns.len()
        );
        assert!(Template::parse("{}").is_ok_and(|t| t.is_static()));
    }

    #[test]
    fn the_service_time_is_sent_in_milliseconds_to_the_nanosecond() {
        let t = Template::parse(r#"{"class": "{{class}}", "service_ms": {{service_ms}}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.is_static());
        let body = |service_s: Option<f64>| {
            let mut out = String::new();
            t.render_arrival(7, 3, "chat", service_s, &mut out);
            out
        };
        assert_eq!(body(Some(0.2)), r#"{"class": "chat", "service_ms": 200}"#);
        assert_eq!(body(Some(0.0)), r#"{"class": "chat", "service_ms": 0}"#);
        // Without an arrival's service time (closed-loop users), or with a broken one: null,
        // so the body stays JSON.
        assert_eq!(body(None), r#"{"class": "chat", "service_ms": null}"#);
        assert_eq!(body(Some(f64::NAN)), body(None));
        assert_eq!(body(Some(f64::INFINITY)), body(None));
        let mut plain = String::new();
        t.render(7, 3, "chat", &mut plain);
        assert_eq!(plain, body(None));
        // In milliseconds to the nanosecond: what the simulator serves (it rounds to whole
        // nanoseconds), and few enough digits that any JSON parser reads them exactly.
        for (s, ms) in [
            (0.123_456_789_012_345_6, "123.456789"),
            (0.183_402_117_4, "183.402117"),
            (1e-9, "0.000001"),
            (4e-10, "0"),
            (3.7e-4, "0.37"),
            (12.5, "12500"),
            (86_399.999_999_999_5, "86400000"),
            (-0.25, "-250"),
        ] {
            let sent = body(Some(s));
            assert_eq!(sent, format!(r#"{{"class": "chat", "service_ms": {ms}}}"#));
            let v: serde_json::Value =
                serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}: {sent}"));
            let back = v["service_ms"].as_f64().map(|ms| (ms * 1e6).round());
            assert_eq!(back, Some((s * 1e9).round()), "{sent}");
        }
        assert!(Template::parse("{{service_ms 3}}").is_err_and(|e| e.contains("{{service_ms}}")));
    }

    #[test]
    fn bad_fields_say_what_was_expected() {
        for (t, want) in [
            ("{{nope}}", "unknown field {{nope}}"),
            ("{{int 5 1}}", "LO <= HI"),
            ("{{int a 1}}", "expected {{int LO HI}}"),
            ("{{float 1}}", "expected {{float LO HI}}"),
            ("{{words 1 x}}", "expected {{words LO HI}}"),
            ("{{choice a||b}}", "expected {{choice A|B|...}}"),
            ("{\"a\": {{seq}", "is not closed"),
        ] {
            let e = Template::parse(t).map(|_| ());
            assert!(e.as_ref().is_err_and(|e| e.contains(want)), "{t}: {e:?}");
        }
    }
}
