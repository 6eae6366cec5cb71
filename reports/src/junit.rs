//! A gate result as JUnit XML, the format Jenkins, GitLab and GitHub test reporters render:
//! `<testsuites>` for the gate, one `<testsuite>` per setup, one `<testcase>` per check, and a
//! `<failure>` with the reason for each check that failed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::gate::{GateResult, Verdict};
use crate::{ReportError, WriteError};

/// Escapes text for XML content and attribute values; characters XML 1.0 cannot hold (control
/// characters other than tab, newline and carriage return) are dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders `result` as JUnit XML.
pub fn junit_xml(result: &GateResult) -> String {
    let e = xml_escape;
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
    let what = "JUnit XML";
    let file = File::create(path).map_err(|source| ReportError::Create {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BufWriter::new(file);
    out.write_all(junit_xml(result).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| ReportError::Write {
            what,
            path: path.to_path_buf(),
            source: WriteError::Io(e),
        })
}
