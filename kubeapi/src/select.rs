//! Label and field selectors, as the `labelSelector` and `fieldSelector` query parameters
//! write them, and the typed `LabelSelector` of a PodDisruptionBudget.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

/// A malformed selector.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid selector {selector:?}: {why}")]
pub struct SelectorError {
    /// The selector as given.
    pub selector: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector: every requirement must hold (`app=web,tier in (a,b),!canary`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels(Vec<Requirement>);

impl Labels {
    /// Parses the `labelSelector` syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
    /// `k` (exists) and `!k` (does not exist), separated by commas outside parentheses.
    pub fn parse(selector: &str) -> Result<Labels, SelectorError> {
        let err = |why| SelectorError {
            selector: selector.to_string(),
            why,
        };
        let mut reqs = Vec::new();
        for term in split_terms(selector).map_err(err)? {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            reqs.push(parse_term(term).map_err(err)?);
        }
        Ok(Labels(reqs))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// The selector of a typed `LabelSelector` (`matchLabels` and `matchExpressions`).
    /// An empty selector matches everything; an unknown operator matches nothing.
    pub fn from_label_selector(sel: &LabelSelector) -> Labels {
        let mut reqs: Vec<Requirement> = sel
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
            .collect();
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            reqs.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                _ => Requirement::In(e.key.clone(), Vec::new()),
            });
        }
        Labels(reqs)
    }

    /// Whether the object's `metadata.labels` satisfy the selector.
    pub fn matches_object(&self, object: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        self.matches(&labels_of(object))
    }
}

/// The `metadata.labels` of an object as a map (empty when absent or malformed).
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn split_terms(s: &str) -> Result<Vec<&str>, &'static str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced parentheses")?,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses");
    }
    terms.push(&s[start..]);
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, &'static str> {
    let key = |k: &str| -> Result<String, &'static str> {
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            Err("a requirement needs a key")
        } else {
            Ok(k.to_string())
        }
    };
    if let Some(rest) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key(rest)?));
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals(key(k)?, v.trim().to_string()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::Equals(key(k)?, v.trim().to_string()));
    }
    for (op, notin) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = term.split_once(op) {
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or("a set needs parentheses")?;
            let values = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            return Ok(if notin {
                Requirement::NotIn(key(k)?, values)
            } else {
                Requirement::In(key(k)?, values)
            });
        }
    }
    Ok(Requirement::Exists(key(term)?))
}

/// A parsed field selector: `path=value`, `path==value` or `path!=value`, comma separated.
/// Paths are JSON field paths such as `spec.nodeName`, `metadata.name`, `status.phase`; a
/// missing field compares as the empty string, as in Kubernetes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Vec<(String, bool, String)>);

impl Fields {
    /// Parses the `fieldSelector` syntax.
    pub fn parse(selector: &str) -> Result<Fields, SelectorError> {
        let mut reqs = Vec::new();
        for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, eq, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (p, true, v)
            } else {
                return Err(SelectorError {
                    selector: selector.to_string(),
                    why: "a field requirement needs = or !=",
                });
            };
            reqs.push((path.trim().to_string(), eq, value.trim().to_string()));
        }
        Ok(Fields(reqs))
    }

    /// Whether the object satisfies every requirement.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let pointer: String = path.split('.').map(|p| format!("/{p}")).collect();
            let have = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_and_set_based() {
        let l = labels(&[("app", "web"), ("tier", "gpu")]);
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "tier in (gpu, cpu)",
            "tier notin (cpu)",
            "app",
            "!canary",
            "app=web,tier in (gpu),!canary",
            "",
        ];
        for s in yes {
            assert!(Labels::parse(s).expect(s).matches(&l), "{s}");
        }
        let no = [
            "app=db",
            "tier notin (gpu)",
            "tier in (cpu)",
            "canary",
            "!app",
            "zone notin (a),x",
        ];
        for s in no {
            assert!(!Labels::parse(s).expect(s).matches(&l), "{s}");
        }
        assert!(Labels::parse("zone notin (a)").expect("parses").matches(&l));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for s in ["tier in (a", "tier in a", "=web", "a b"] {
            assert!(Labels::parse(s).is_err(), "{s}");
        }
        assert!(Fields::parse("spec.nodeName").is_err());
    }

    #[test]
    fn fields_compare_missing_as_empty() {
        let pod = json!({"metadata":{"name":"p"},"spec":{"nodeName":"node-a"}});
        assert!(
            Fields::parse("spec.nodeName=node-a")
                .expect("ok")
                .matches_object(&pod)
        );
        assert!(
            !Fields::parse("spec.nodeName=node-b")
                .expect("ok")
                .matches_object(&pod)
        );
        assert!(
            Fields::parse("status.phase!=Running,metadata.name=p")
                .expect("ok")
                .matches_object(&pod)
        );
        assert!(
            Fields::parse("spec.schedulerName=")
                .expect("ok")
                .matches_object(&pod)
        );
    }

    #[test]
    fn typed_label_selector() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["gpu"]}]
        }))
        .expect("selector");
        let s = Labels::from_label_selector(&sel);
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "gpu")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }
}
