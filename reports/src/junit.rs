//! A gate result as JUnit XML, the format Jenkins, GitLab and GitHub test reporters render:
//! `<testsuites>` for the gate, one `<testsuite>` per setup, one `<testcase>` per check, and a
//! `<failure>` with the reason for each check that failed (a passing check's reason is its
//! `<system-out>`).
//!
//! The document is built and written by the `quick-junit` crate, which escapes markup in text
//! and attributes and drops what XML 1.0 cannot hold: control characters (tabs and carriage
//! returns too; newlines are kept), and whole ANSI escape sequences (`\x1b[31m`), not just
//! their escape character. We drop U+FFFE and U+FFFF, which it lets through. A gate has no
//! durations, so every `time` is `0.000`.

use std::io;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::gate::{CheckKind, GateResult, Verdict};
use crate::{ReportError, WriteError};

/// Renders `result` as JUnit XML.
pub fn junit_xml(result: &GateResult) -> String {
    let mut xml = Vec::new();
    // Writing into a Vec cannot fail, and quick-junit's errors all come from its writer
    // (`write_junit` reports them for a file); its output is UTF-8, as every input is a str.
    let written = junit_report(result).serialize(&mut xml);
    debug_assert!(written.is_ok(), "{written:?}");
    String::from_utf8_lossy(&xml).into_owned()
}

/// Writes [`junit_xml`] to `path`.
pub fn write_junit(result: &GateResult, path: &Path) -> Result<(), ReportError> {
    crate::write_file(path, "JUnit XML", |out| {
        junit_report(result)
            .serialize(&mut *out)
            .map_err(|e| WriteError::Io(io::Error::other(e)))
    })
}

/// The JUnit document of `result`: one suite per setup, in the order the setups first appear
/// among the checks, with one case per check.
fn junit_report(result: &GateResult) -> Report {
    let mut setups: Vec<&str> = Vec::new();
    for c in &result.checks {
        if !setups.contains(&c.setup.as_str()) {
            setups.push(&c.setup);
        }
    }
    let mut report = Report::new(xml_chars(&format!("scalebench gate: {}", result.scenario)));
    report.set_time(Duration::ZERO);
    for setup in setups {
        let mut suite = TestSuite::new(xml_chars(setup));
        suite.set_time(Duration::ZERO);
        let classname = xml_chars(&format!("scalebench.{}.{setup}", result.scenario));
        for c in result.checks.iter().filter(|c| c.setup == setup) {
            let (name, failure_type) = match c.kind {
                CheckKind::Threshold => (c.check.clone(), "threshold"),
                CheckKind::Regression => (format!("{} vs baseline", c.check), "regression"),
                CheckKind::Generator => (c.check.clone(), "generator_limited"),
            };
            let reason = xml_chars(&c.reason);
            let status = match c.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Fail => {
                    let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    failure
                        .set_message(reason.as_str())
                        .set_type(failure_type)
                        .set_description(reason.as_str());
                    failure
                }
            };
            let mut case = TestCase::new(xml_chars(&name), status);
            case.set_classname(classname.as_str())
                .set_time(Duration::ZERO);
            if c.verdict == Verdict::Pass {
                case.set_system_out(reason);
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
}

/// `s` without U+FFFE and U+FFFF, which XML 1.0 cannot hold and quick-junit's `XmlString`
/// (which drops control characters and ANSI escapes) lets through.
fn xml_chars(s: &str) -> String {
    s.replace(['\u{FFFE}', '\u{FFFF}'], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Check, GATE_SCHEMA};

    fn check(setup: &str, kind: CheckKind, verdict: Verdict, reason: &str) -> Check {
        Check {
            setup: setup.into(),
            kind,
            check: "p99<2s".into(),
            figure: "p99".into(),
            actual: Some(1.0),
            limit: Some(2.0),
            baseline: None,
            ci: None,
            p_value: None,
            verdict,
            reason: reason.into(),
        }
    }

    fn gate(checks: Vec<Check>) -> GateResult {
        let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        GateResult {
            schema: GATE_SCHEMA.into(),
            scenario: "s".into(),
            baseline: None,
            confidence: 0.95,
            passed: failed == 0,
            failed,
            checks,
        }
    }

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    #[test]
    fn markup_and_control_characters_in_a_reason_round_trip() {
        let reason = "p99 <2s & \"3 s\" > 'x'\u{1}\u{1b}[31m red\u{1b}[0m\u{FFFF}\t!";
        // Markup is escaped and read back; \u{1}, the ANSI sequences, U+FFFF and the tab are gone.
        let kept = "p99 <2s & \"3 s\" > 'x' red!";
        let g = gate(vec![
            check("a&<b>", CheckKind::Threshold, Verdict::Fail, reason),
            check("a&<b>", CheckKind::Regression, Verdict::Pass, reason),
        ]);
        let xml = junit_xml(&g);
        assert!(
            !xml.contains('\u{1b}') && !xml.contains('\u{FFFF}'),
            "{xml}"
        );
        let doc = parse(&xml);
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap_or_else(|| panic!("no suite in {xml}"));
        assert_eq!(suite.attribute("name"), Some("a&<b>"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].attribute("classname"), Some("scalebench.s.a&<b>"));
        let failure = cases[0]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap_or_else(|| panic!("no failure in {xml}"));
        assert_eq!(failure.attribute("message"), Some(kept));
        assert_eq!(failure.attribute("type"), Some("threshold"));
        assert_eq!(failure.text(), Some(kept));
        assert_eq!(cases[1].attribute("name"), Some("p99<2s vs baseline"));
        let out = cases[1]
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .unwrap_or_else(|| panic!("no system-out in {xml}"));
        assert_eq!(out.text(), Some(kept));
        assert!(!cases[1].children().any(|n| n.has_tag_name("failure")));
    }

    #[test]
    fn suites_follow_the_first_appearance_of_their_setups() {
        let g = gate(vec![
            check("b", CheckKind::Threshold, Verdict::Pass, "ok"),
            check("a", CheckKind::Threshold, Verdict::Fail, "no"),
            check("b", CheckKind::Regression, Verdict::Fail, "worse"),
        ]);
        let xml = junit_xml(&g);
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(root.attribute("name"), Some("scalebench gate: s"));
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("2"));
        assert_eq!(root.attribute("errors"), Some("0"));
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        let names: Vec<_> = suites.iter().map(|s| s.attribute("name")).collect();
        assert_eq!(names, [Some("b"), Some("a")]);
        let counts: Vec<_> = suites
            .iter()
            .map(|s| (s.attribute("tests"), s.attribute("failures")))
            .collect();
        assert_eq!(counts, [(Some("2"), Some("1")), (Some("1"), Some("1"))]);
        let regression = suites[0]
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap_or_else(|| panic!("no failure in {xml}"));
        assert_eq!(regression.attribute("type"), Some("regression"));
        assert_eq!(suites[0].attribute("time"), Some("0.000"));
    }

    #[test]
    fn the_file_holds_the_same_xml_and_a_bad_path_is_an_error_naming_it() {
        let g = gate(vec![check("a", CheckKind::Threshold, Verdict::Pass, "ok")]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("gate.xml");
        write_junit(&g, &path).unwrap_or_else(|e| panic!("{e}"));
        let written = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, junit_xml(&g));
        let missing = dir.path().join("no/such/dir/gate.xml");
        let err = write_junit(&g, &missing).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("JUnit XML") && e.contains("no/such/dir")),
            "{err:?}"
        );
    }
}
