//! `--vary KEY=V1,V2,...`: the grid of settings a sweep runs.
//!
//! A key names a setting of the scenario file, in TOML's dotted form:
//!
//! - a key of `[[setup]]` (`warm_pool`, `scrape_delay`, `hpa.target`, `keda.max_replicas`,
//!   `hpa.behavior.scale_down.stabilization_window`, `lifecycle.load`, ...) is set in every setup
//!   that has it: a policy's keys (`hpa.*`, `kpa.*`, `keda.*`, `fixed.*`, `cost-aware.*`) only in
//!   the setups with that policy, the others in all setups;
//! - `SETUP:KEY` sets it in the named setup only (`keda-warm2:warm_pool=0,1,2`);
//! - `duration`, `seed`, `window` and the keys under `slo`, `traffic`, `service` or `cluster`
//!   (`service.concurrency`) are set once, for every setup.
//!
//! Values are TOML values (`3`, `0.7`, `true`), bare words are strings (`15s`, `spot`), and
//! `A..B` or `A..B/STEP` is an inclusive range of numbers. The grid is the Cartesian product of
//! the keys' values; each point is a *setting*. Every setting is checked by the scenario parser,
//! so a key the schema does not know is an error that names it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use toml::{Table, Value};

use crate::scenario::Plan;

/// The most settings one grid may hold: every setting's scenario and scores stay in memory
/// (about 40 KiB a setting for `spike-5x`), so a larger grid is split into several sweeps.
pub const MAX_SETTINGS: usize = 20_000;

/// The most values one range may expand to.
const MAX_RANGE: usize = 100_000;

/// The policy tables of a setup: their keys apply only to setups with that policy.
const POLICIES: [&str; 5] = ["fixed", "hpa", "kpa", "keda", "cost-aware"];

/// The scenario's top-level keys and tables whose values apply once, to every setup.
const ROOT_KEYS: [&str; 7] = [
    "duration", "seed", "window", "slo", "traffic", "service", "cluster",
];

/// A problem with a `--vary` option or with the scenario a setting makes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--vary {spec}: {message}")]
pub struct VaryError {
    /// The option as given (or its key).
    pub spec: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl VaryError {
    fn new(spec: &str, message: impl Into<String>) -> Self {
        VaryError {
            spec: spec.to_string(),
            message: message.into(),
        }
    }
}

/// One `--vary` option: a key and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// The key as written, e.g. `keda-warm2:warm_pool` (a column name in sweep outputs).
    pub key: String,
    /// The setup it is restricted to (`SETUP:` prefix).
    pub setup: Option<String>,
    /// The dotted path.
    pub path: Vec<String>,
    /// The values, in order.
    pub values: Vec<Value>,
}

impl FromStr for Vary {
    type Err = VaryError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let Some((key, values)) = spec.split_once('=') else {
            return Err(VaryError::new(
                spec,
                "expected KEY=V1,V2,... (e.g. warm_pool=0,1,2 or hpa.target=2..6)",
            ));
        };
        let key = key.trim();
        let (setup, dotted) = match key.split_once(':') {
            Some((setup, dotted)) if !setup.trim().is_empty() => {
                (Some(setup.trim().to_string()), dotted.trim())
            }
            Some(_) => return Err(VaryError::new(spec, "expected a setup name before ':'")),
            None => (None, key),
        };
        let path: Vec<String> = dotted.split('.').map(|s| s.trim().to_string()).collect();
        if path.iter().any(String::is_empty) {
            return Err(VaryError::new(
                spec,
                format!("expected a dotted key such as hpa.target, found {dotted:?}"),
            ));
        }
        let mut parsed = Vec::new();
        for v in values.split(',').map(str::trim) {
            if v.is_empty() {
                return Err(VaryError::new(spec, "empty value in the list"));
            }
            match range(v).map_err(|m| VaryError::new(spec, m))? {
                Some(r) => parsed.extend(r),
                None => parsed.push(scalar(v)),
            }
        }
        if parsed.len() > MAX_RANGE {
            return Err(VaryError::new(
                spec,
                format!("{} values; at most {MAX_RANGE}", parsed.len()),
            ));
        }
        Ok(Vary {
            key: key.to_string(),
            setup,
            path,
            values: parsed,
        })
    }
}

/// A value as TOML reads it; a bare word (`15s`, `spot`) is a string.
fn scalar(v: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(v.to_string()))
}

/// `A..B` or `A..B/STEP`, inclusive; `None` when `v` is not a range.
fn range(v: &str) -> Result<Option<Vec<Value>>, String> {
    let Some((from, rest)) = v.split_once("..") else {
        return Ok(None);
    };
    let (to, step) = match rest.split_once('/') {
        Some((to, step)) => (to, Some(step)),
        None => (rest, None),
    };
    let number = |s: &str| match scalar(s.trim()) {
        Value::Integer(i) => Ok(Num::Int(i)),
        Value::Float(f) if f.is_finite() => Ok(Num::Float(f)),
        _ => Err(format!(
            "expected a range of numbers A..B or A..B/STEP, found {v:?}"
        )),
    };
    let (from, to) = (number(from)?, number(to)?);
    let step = step.map(number).transpose()?;
    let values = match (from, to, step) {
        (Num::Int(a), Num::Int(b), None | Some(Num::Int(_))) => {
            let s = match step {
                Some(Num::Int(s)) => s,
                _ => 1,
            };
            if s <= 0 || b < a {
                return Err(format!(
                    "range {v:?} must go up by a positive step (A <= B)"
                ));
            }
            // In i128: B - A of two i64 does not fit an i64.
            let n = (i128::from(b) - i128::from(a)) / i128::from(s) + 1;
            if n > MAX_RANGE as i128 {
                return Err(format!("range {v:?} has {n} values; at most {MAX_RANGE}"));
            }
            // Every value lies in [A, B], so it fits an i64.
            (0..n as i64).map(|k| Value::Integer(a + k * s)).collect()
        }
        (from, to, step) => {
            let (a, b) = (from.as_f64(), to.as_f64());
            let s = step.map_or(1.0, Num::as_f64);
            if s <= 0.0 || b < a {
                return Err(format!(
                    "range {v:?} must go up by a positive step (A <= B)"
                ));
            }
            // A little slack so that 0.1..0.5/0.1 ends at 0.5 despite rounding.
            let n = ((b - a) / s + 1e-9).floor() + 1.0;
            if n > MAX_RANGE as f64 {
                return Err(format!("range {v:?} has {n} values; at most {MAX_RANGE}"));
            }
            (0..n as u64)
                .map(|k| {
                    let x = a + k as f64 * s;
                    // Round away the float noise of repeated steps (0.30000000000000004).
                    Value::Float((x * 1e9).round() / 1e9)
                })
                .collect()
        }
    };
    Ok(Some(values))
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Shows a value as a user would write it: strings without quotes.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The grid: every combination of the keys' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The keys, in the order given; the last one varies fastest.
    pub axes: Vec<Vary>,
}

impl Grid {
    /// A grid over `axes`; a key given twice or a grid over [`MAX_SETTINGS`] is an error.
    pub fn new(axes: Vec<Vary>) -> Result<Grid, VaryError> {
        for (i, a) in axes.iter().enumerate() {
            if axes[..i].iter().any(|b| b.key == a.key) {
                return Err(VaryError::new(&a.key, "the key is given twice"));
            }
        }
        let mut n: usize = 1;
        for a in &axes {
            n = n
                .checked_mul(a.values.len())
                .filter(|&n| n <= MAX_SETTINGS)
                .ok_or_else(|| {
                    VaryError::new(
                        &a.key,
                        format!("the grid would have more than {MAX_SETTINGS} settings"),
                    )
                })?;
        }
        Ok(Grid { axes })
    }

    /// The number of settings.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// True when the grid has no settings. Never, in practice: every key has a value, and a
    /// grid without keys has one setting, the scenario as written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Setting `i`'s index into each key's values.
    pub fn point(&self, mut i: usize) -> Vec<usize> {
        let mut idx = vec![0; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            let n = a.values.len();
            idx[k] = i % n;
            i /= n;
        }
        idx
    }

    /// Setting `i`'s values, shown as a user writes them, one per key.
    pub fn labels(&self, i: usize) -> Vec<String> {
        self.point(i)
            .iter()
            .zip(&self.axes)
            .map(|(&j, a)| show(&a.values[j]))
            .collect()
    }

    /// The scenario with setting `i` applied, checked and resolved. `path` names the scenario
    /// file in messages.
    pub fn plan(&self, base: &Table, path: &Path, i: usize) -> Result<Plan, VaryError> {
        let mut doc = base.clone();
        for (&j, axis) in self.point(i).iter().zip(&self.axes) {
            apply(&mut doc, axis, &axis.values[j])?;
        }
        let text = toml::to_string(&doc).map_err(|e| {
            VaryError::new(&self.describe(i), format!("cannot write the scenario: {e}"))
        })?;
        Plan::parse(path, &text).map_err(|e| VaryError::new(&self.describe(i), e.message))
    }

    /// Setting `i` as `key=value` pairs.
    pub fn describe(&self, i: usize) -> String {
        self.axes
            .iter()
            .zip(self.labels(i))
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Sets `axis` to `value` in the scenario document.
fn apply(doc: &mut Table, axis: &Vary, value: &Value) -> Result<(), VaryError> {
    let first = axis.path[0].as_str();
    if ROOT_KEYS.contains(&first) {
        if let Some(setup) = &axis.setup {
            return Err(VaryError::new(
                &axis.key,
                format!("[{first}] is the scenario's, not setup {setup:?}'s: drop the prefix"),
            ));
        }
        return set(doc, &axis.path, value.clone()).map_err(|m| VaryError::new(&axis.key, m));
    }
    let Some(Value::Array(setups)) = doc.get_mut("setup") else {
        return Err(VaryError::new(&axis.key, "the scenario has no [[setup]]"));
    };
    let mut names = Vec::new();
    let mut hit = 0;
    for setup in setups.iter_mut() {
        let Value::Table(t) = setup else { continue };
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let policy = POLICIES
            .iter()
            .find(|p| t.contains_key(**p))
            .copied()
            .unwrap_or("?");
        names.push(format!("{name} ({policy})"));
        if axis.setup.as_ref().is_some_and(|s| *s != name) {
            continue;
        }
        if POLICIES.contains(&first) && !t.contains_key(first) {
            continue;
        }
        set(t, &axis.path, value.clone()).map_err(|m| VaryError::new(&axis.key, m))?;
        hit += 1;
    }
    if hit == 0 {
        let which = match &axis.setup {
            Some(s) => format!("no setup is named {s:?}"),
            None => format!("no setup has a [setup.{first}] table"),
        };
        return Err(VaryError::new(
            &axis.key,
            format!("{which}; the setups are {}", names.join(", ")),
        ));
    }
    Ok(())
}

/// Sets the dotted `path` in `table`, creating the tables on the way.
fn set(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(inner) => inner,
            other => {
                return Err(format!(
                    "{p} is a {}, not a table: cannot set {}",
                    other.type_str(),
                    path.join(".")
                ));
            }
        };
    }
    t.insert(last.clone(), value);
    Ok(())
}

impl fmt::Display for Vary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<String> = self.values.iter().map(show).collect();
        write!(f, "{}={}", self.key, values.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary(s: &str) -> Vary {
        s.parse().expect("valid --vary")
    }

    #[test]
    fn parses_lists_ranges_and_words() {
        let v = vary("hpa.target=2,3.5,true");
        assert_eq!(v.path, ["hpa", "target"]);
        assert_eq!(
            v.values,
            [Value::Integer(2), Value::Float(3.5), Value::Boolean(true)]
        );
        assert_eq!(vary("warm_pool=0..3").values.len(), 4);
        assert_eq!(
            vary("warm_pool=0..10/5").values,
            [Value::Integer(0), Value::Integer(5), Value::Integer(10)]
        );
        let f = vary("keda.target=0.1..0.5/0.1").values;
        assert_eq!(f.len(), 5);
        assert_eq!(f[2], Value::Float(0.3));
        assert_eq!(
            vary("scrape_delay=0s,15s").values,
            [Value::String("0s".into()), Value::String("15s".into())]
        );
        let p = vary("keda-warm2:warm_pool=1");
        assert_eq!(p.setup.as_deref(), Some("keda-warm2"));
        assert_eq!(p.path, ["warm_pool"]);
    }

    #[test]
    fn rejects_malformed_options() {
        for bad in [
            "warm_pool",
            "warm_pool=",
            "warm_pool=1,,2",
            "=1",
            "hpa..target=1",
            ":warm_pool=1",
            "warm_pool=5..1",
            "warm_pool=0..1/0",
            "warm_pool=a..b",
            "warm_pool=-9223372036854775808..9223372036854775807",
        ] {
            assert!(bad.parse::<Vary>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn ranges_at_the_ends_of_i64_do_not_overflow() {
        let v = vary("k=-2..9223372036854775807/9223372036854775807").values;
        assert_eq!(
            v,
            [
                Value::Integer(-2),
                Value::Integer(9_223_372_036_854_775_805)
            ]
        );
    }

    #[test]
    fn enumerates_the_grid_last_key_fastest() {
        let g = Grid::new(vec![vary("a=1,2"), vary("b=x,y,z")]).expect("grid");
        assert_eq!(g.len(), 6);
        assert_eq!(g.point(0), [0, 0]);
        assert_eq!(g.point(1), [0, 1]);
        assert_eq!(g.point(5), [1, 2]);
        assert_eq!(g.describe(4), "a=2 b=y");
        assert!(Grid::new(vec![vary("a=1"), vary("a=2")]).is_err());
        let huge = Grid::new(vec![vary("a=1..1000"), vary("b=1..1000")]);
        assert!(huge.is_err());
    }
}
