//! A gate result as JUnit XML, the format Jenkins, GitLab and GitHub test reporters render:
//! `<testsuites>` for the gate, one `<testsuite>` per setup, one `<testcase>` per check, and a
//! `<failure>` with the reason for each check that failed.

use std::path::Path;

use crate::ReportError;
use crate::gate::{GateResult, Verdict};

/// Renders `result` as JUnit XML.
pub fn junit_xml(result: &GateResult) -> String {
    let e = crate::markup::escape;
    let mut setups: Vec<&str> = Vec::new();
    for c in &result.checks {
        if !setups.contains(&c.setup.as_str()) {
            setups.push(&c.setup);
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"0\">\n",
        e(&format!("scalebench gate: {}", result.scenario)),
        result.checks.len(),
        result.failed
    ));
    for setup in setups {
        let checks: Vec<_> = result.checks.iter().filter(|c| c.setup == setup).collect();
        let failures = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
            e(setup),
            checks.len()
        ));
        let classname = e(&format!("scalebench.{}.{setup}", result.scenario));
        for c in checks {
            let name = match c.kind {
                crate::gate::CheckKind::Threshold => c.check.clone(),
                crate::gate::CheckKind::Regression => format!("{} vs baseline", c.check),
            };
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{classname}\" time=\"0\">\n",
                e(&name)
            ));
            match c.verdict {
                Verdict::Fail => out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    e(&c.reason),
                    match c.kind {
                        crate::gate::CheckKind::Threshold => "threshold",
                        crate::gate::CheckKind::Regression => "regression",
                    },
                    e(&c.reason)
                )),
                Verdict::Pass => out.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    e(&c.reason)
                )),
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Writes [`junit_xml`] to `path`.
pub fn write_junit(result: &GateResult, path: &Path) -> Result<(), ReportError> {
    crate::write_file(path, "JUnit XML", |out| {
        out.write_all(junit_xml(result).as_bytes())?;
        Ok(())
    })
}
