//! `/version` and legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/GROUP[/VERSION]`).

use serde_json::{Value, json};

use crate::kind::Kind;

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/version`: Kubernetes 1.32, so gcloud's kubectl dispatcher runs its kubectl 1.32.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-scalebench",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

fn group(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`.
pub fn groups() -> Value {
    let groups: Vec<Value> = Kind::group_versions()
        .iter()
        .map(|(g, v)| group(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`, if the group is served.
pub fn api_group(name: &str) -> Option<Value> {
    let (g, v) = Kind::group_versions()
        .into_iter()
        .find(|(g, _)| *g == name)?;
    let mut doc = group(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn resource(kind: Kind) -> Value {
    json!({"name": kind.plural(), "singularName": kind.singular(), "namespaced": kind.namespaced(),
           "kind": kind.name(), "verbs": VERBS, "shortNames": kind.short_names()})
}

fn subresource(kind: Kind, sub: &str, response: (&str, &str, &str), verbs: &[&str]) -> Value {
    let (group, version, response_kind) = response;
    let mut r = json!({"name": format!("{}/{sub}", kind.plural()), "singularName": "",
                       "namespaced": kind.namespaced(), "kind": response_kind, "verbs": verbs});
    if !group.is_empty() {
        r["group"] = json!(group);
        r["version"] = json!(version);
    }
    r
}

/// `/api/v1` or `/apis/GROUP/VERSION`: the APIResourceList, if that group-version is served.
/// It lists `pods/eviction` (kubectl drain checks for it) and `deployments/scale`.
pub fn resources(group_version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| k.api_version() == group_version)
    {
        list.push(resource(kind));
        let rw = ["get", "patch", "update"];
        list.push(subresource(kind, "status", ("", "", kind.name()), &rw));
        match kind {
            Kind::Pod => list.push(subresource(
                kind,
                "eviction",
                ("policy", "v1", "Eviction"),
                &["create"],
            )),
            Kind::Deployment => list.push(subresource(
                kind,
                "scale",
                ("autoscaling", "v1", "Scale"),
                &rw,
            )),
            _ => {}
        }
    }
    if list.is_empty() {
        return None;
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}),
    )
}
