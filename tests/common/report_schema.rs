//! Validation of report.json against docs/report.schema.json, shared by the integration tests
//! of the binary (`tests/common`) and of the reports crate (`reports/tests/common`, which
//! includes this file by path).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// docs/report.schema.json: the reference for report.json (found from the crate's directory
/// upwards, so the root crate and a member crate find the same file).
pub fn report_schema_path() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|dir| dir.join("docs/report.schema.json"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no docs/report.schema.json above {}", here.display()))
}

/// The schema of report.json, compiled once per test binary (draft 2020-12; it refers only
/// to itself, so nothing is fetched).
pub fn report_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = report_schema_path();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{} is not a valid JSON Schema: {e}", path.display()))
    })
}

/// Where `report` breaks the schema, one line per error: the JSON pointer of the offending
/// value, what is wrong, and the schema keyword that said so. Empty when it conforms.
pub fn schema_errors(report: &Value) -> Vec<String> {
    report_validator()
        .iter_errors(report)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() {
                "(root)".to_owned()
            } else {
                at
            };
            format!("{at}: {e} (schema {})", e.schema_path())
        })
        .collect()
}

/// Panics unless `report` conforms to docs/report.schema.json, listing the failing JSON
/// pointers (the first 20); `what` names the report in the message.
pub fn validate_report(report: &Value, what: &str) {
    let errors = schema_errors(report);
    if errors.is_empty() {
        return;
    }
    let shown: Vec<&str> = errors.iter().take(20).map(String::as_str).collect();
    let more = errors.len() - shown.len();
    panic!(
        "{what} does not conform to {} ({} errors):\n  {}{}",
        report_schema_path().display(),
        errors.len(),
        shown.join("\n  "),
        if more > 0 {
            format!("\n  ... and {more} more")
        } else {
            String::new()
        }
    );
}
