//! The scenario's gate: `thresholds = [...]` and `[gate]`, checked against the figure
//! catalogue and the setups, every problem pinned to its place in the file.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::GateFile;
use super::resolve::Resolver;
use crate::error::Located;
use crate::threshold::{
    DEFAULT_CONFIDENCE, ExprError, GateSpec, RegressionLimit, Threshold, check_confidence,
};

impl Resolver<'_> {
    /// Parses the thresholds and the `[gate]` table; `setups` are the names a threshold or a
    /// limit may name.
    pub(super) fn resolve_gate(
        &self,
        thresholds: &[Spanned<String>],
        gate: Option<&Spanned<GateFile>>,
        setups: Option<&[&str]>,
    ) -> Result<GateSpec, Located> {
        let mut spec = GateSpec::default();
        for t in thresholds {
            let parsed =
                Threshold::parse(t.get_ref()).map_err(|e| self.in_string(t, &e, "threshold"))?;
            self.check_setup(t, parsed.setup.as_deref(), setups)?;
            spec.thresholds.push(parsed);
        }
        if let Some(g) = gate {
            for m in &g.get_ref().max_regression {
                let parsed = RegressionLimit::parse_list(m.get_ref())
                    .map_err(|e| self.in_string(m, &e, "max_regression"))?;
                for l in &parsed {
                    self.check_setup(m, l.setup.as_deref(), setups)?;
                }
                spec.max_regression.extend(parsed);
            }
            let confidence = g.get_ref().confidence.unwrap_or(DEFAULT_CONFIDENCE);
            check_confidence(confidence)
                .map_err(|msg| Located::at(self.path, self.src, g.span().start, msg))?;
            spec.confidence = confidence;
        }
        Ok(spec)
    }

    /// An expression error inside the TOML string `s`, located at its character.
    fn in_string(&self, s: &Spanned<String>, e: &ExprError, what: &str) -> Located {
        // The span starts at the opening quote; escapes inside the string would shift this a
        // little, which only moves the caret.
        let offset = (s.span().start + 1 + e.offset).min(s.span().end);
        Located::at(
            self.path,
            self.src,
            offset,
            format!("{what} {:?}: {}", e.text, e.message),
        )
    }

    fn check_setup(
        &self,
        at: &Spanned<String>,
        setup: Option<&str>,
        setups: Option<&[&str]>,
    ) -> Result<(), Located> {
        match (setup, setups) {
            (Some(name), Some(known)) if !known.contains(&name) => Err(Located::at(
                self.path,
                self.src,
                at.span().start + 1,
                format!(
                    "{:?} names setup {name:?}, which is not in this scenario (setups: {})",
                    at.get_ref(),
                    known.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Just the gate of a scenario file: what `scalebench gate` reads from the scenario text a
/// report carries, without resolving (or being able to resolve) the rest of it.
#[derive(Debug, Deserialize)]
struct GateOnly {
    #[serde(default)]
    thresholds: Vec<Spanned<String>>,
    #[serde(default)]
    gate: Option<Spanned<GateFile>>,
}

/// Reads the thresholds and `[gate]` of scenario text `src` (from `path`, for messages),
/// ignoring everything else; setup names are not checked (a report's setups are).
pub fn gate_of_source(path: &Path, src: &str) -> Result<GateSpec, Located> {
    let file: GateOnly = toml::from_str(src).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        Located::at(path, src, offset, e.message().trim().to_string())
    })?;
    Resolver { path, src }.resolve_gate(&file.thresholds, file.gate.as_ref(), None)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Plan;
    use crate::figure::Figure;

    const BODY: &str = r#"
duration = "1m"
[slo]
latency = "500ms"
[traffic]
[[traffic.shape]]
kind = "steady"
rate = 10
[service]
time = "20ms"
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "fixed"
[setup.fixed]
replicas = 2
"#;

    fn parse(head: &str, tail: &str) -> Result<Plan, crate::Located> {
        Plan::parse(Path::new("g.toml"), &format!("{head}{BODY}{tail}"))
    }

    #[test]
    fn thresholds_and_gate_reach_the_plan() {
        let plan = parse(
            "thresholds = [\"p99<2s\", \"fixed:error_rate<1%\"]\n",
            "[gate]\nmax_regression = [\"p99=10%,cost=5%\"]\nconfidence = 0.9\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let g = &plan.gate;
        assert_eq!(g.thresholds.len(), 2);
        assert_eq!(g.thresholds[0].value, 2000.0);
        assert_eq!(g.thresholds[1].setup.as_deref(), Some("fixed"));
        assert_eq!(g.max_regression[1].figure, Figure::Cost);
        assert_eq!(g.confidence, 0.9);
        assert!(parse("", "").map(|p| p.gate.is_empty()).unwrap_or(false));
    }

    #[test]
    fn bad_thresholds_name_the_file_line_and_column() {
        let e = parse("thresholds = [\"p99<2s\", \"p98<2s\"]\n", "")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("g.toml:1:26: threshold \"p98<2s\""), "{e}");
        assert!(e.contains("unknown figure \"p98\""), "{e}");
        let e = parse("thresholds = [\"hpa:p99<2s\"]\n", "")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("g.toml:1:16"), "{e}");
        assert!(
            e.contains("names setup \"hpa\", which is not in this scenario (setups: fixed)"),
            "{e}"
        );
        let e = parse("", "[gate]\nmax_regression = [\"p99=10\"]\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("expected a percentage"), "{e}");
        let e = parse("", "[gate]\nconfidence = 2\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("confidence must be above 0.5"), "{e}");
    }

    #[test]
    fn the_gate_of_a_source_ignores_the_rest() {
        let g = super::gate_of_source(
            Path::new("s.toml"),
            "thresholds = [\"x:p99<1\"]\nwhatever = 3\n[gate]\nmax_regression = [\"p99=5%\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.thresholds[0].setup.as_deref(), Some("x"));
        assert_eq!(g.max_regression[0].max, 0.05);
    }
}
