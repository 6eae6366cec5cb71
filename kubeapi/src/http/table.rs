//! `meta.k8s.io/v1` Tables for `kubectl get pods` and `kubectl get nodes`: the server decides
//! the columns and writes the cells, kubectl prints them.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::kind::Kind;

/// The content type of a Table response.
pub const CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether the Accept header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// Whether a kind has its own Table columns here (other kinds answer with plain lists, which
/// kubectl prints as NAME and AGE).
pub fn has_columns(kind: Kind) -> bool {
    matches!(kind, Kind::Pod | Kind::Node)
}

/// A Table of the objects (of a kind with columns), at resourceVersion `rv`.
pub fn table(kind: Kind, objects: &[&Value], rv: u64, now: Timestamp) -> Value {
    let columns: &[(&str, i32)] = match kind {
        Kind::Pod => &[
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
        ],
        _ => &[
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
        ],
    };
    let columns: Vec<Value> = columns
        .iter()
        .map(|(name, priority)| {
            let format = if *name == "Name" { "name" } else { "" };
            json!({"name": name, "type": "string", "format": format, "description": "", "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells = match kind {
                Kind::Pod => pod_cells(o, now),
                _ => node_cells(o, now),
            };
            let meta = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()},
           "columnDefinitions": columns, "rows": rows})
}

fn age(object: &Value, now: Timestamp) -> String {
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok());
    match created {
        Some(t) => human_duration(now.as_second().saturating_sub(t.as_second())),
        None => "<unknown>".to_string(),
    }
}

/// kubectl's `HumanDuration` (k8s.io/apimachinery/pkg/util/duration).
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let y = d / 365;
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

fn pod_cells(object: &Value, now: Timestamp) -> Vec<String> {
    let pod = Pod::deserialize(object).unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let total = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts: i32 = statuses.iter().map(|c| c.restart_count).sum();
    let waiting = statuses
        .iter()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    let shown = if pod.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else if let Some(reason) = status.reason.clone().or(waiting) {
        reason
    } else {
        status
            .phase
            .clone()
            .unwrap_or_else(|| "Pending".to_string())
    };
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "<none>".into());
    let ip = status.pod_ip.clone().unwrap_or_else(|| "<none>".into());
    vec![
        name,
        format!("{ready}/{total}"),
        shown,
        restarts.to_string(),
        age(object, now),
        ip,
        node,
    ]
}

fn node_cells(object: &Value, now: Timestamp) -> Vec<String> {
    let node = Node::deserialize(object).unwrap_or_default();
    let name = node.metadata.name.clone().unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let mut status = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let version = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.kubelet_version.clone())
        .unwrap_or_default();
    vec![name, status, roles, age(object, now), version]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn cordoned_node_and_terminating_pod() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().expect("time");
        let node = json!({"metadata":{"name":"n","creationTimestamp":"2026-01-01T00:00:00Z",
            "labels":{"node-role.kubernetes.io/gpu":""}},"spec":{"unschedulable":true},
            "status":{"conditions":[{"type":"Ready","status":"True"}]}});
        let t = table(Kind::Node, &[&node], 7, now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["n", "Ready,SchedulingDisabled", "gpu", "10m", ""])
        );
        let pod = json!({"metadata":{"name":"p","deletionTimestamp":"2026-01-01T00:09:00Z"},
            "spec":{"containers":[{"name":"c"}],"nodeName":"n"},"status":{"phase":"Running"}});
        let t = table(Kind::Pod, &[&pod], 7, now);
        assert_eq!(t["rows"][0]["cells"][2], json!("Terminating"));
        assert_eq!(t["rows"][0]["cells"][1], json!("0/1"));
        assert_eq!(t["metadata"]["resourceVersion"], json!("7"));
    }
}
