//! deploy/rbac.yaml: valid Kubernetes objects (k8s-openapi's types), least privilege (no
//! wildcard, no Secrets, no pod creation or exec), and every permission the cluster driver's
//! calls need, as docs/kubernetes.md lists them.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::Deserialize;

/// (API group, resource) -> verbs.
type Grants = BTreeMap<(String, String), BTreeSet<String>>;

fn grants(rules: &[PolicyRule]) -> Grants {
    let mut g = Grants::new();
    for r in rules {
        for group in r.api_groups.iter().flatten() {
            for resource in r.resources.iter().flatten() {
                g.entry((group.clone(), resource.clone()))
                    .or_default()
                    .extend(r.verbs.iter().cloned());
            }
        }
        assert!(
            r.non_resource_urls.is_none() && r.resource_names.is_none(),
            "{r:?}"
        );
    }
    g
}

fn expect(list: &[(&str, &str, &[&str])]) -> Grants {
    list.iter()
        .map(|(g, r, v)| {
            (
                (g.to_string(), r.to_string()),
                v.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_rbac_manifest_grants_what_the_cluster_driver_needs_and_nothing_more() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/rbac.yaml"))
        .expect("deploy/rbac.yaml");
    let mut kinds = Vec::new();
    let (mut role, mut cluster_role) = (None, None);
    let mut bindings = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let value = serde_norway::Value::deserialize(doc).expect("YAML");
        let kind = value["kind"].as_str().expect("kind").to_string();
        // Each document is a valid object of its kind, no unknown fields lost.
        match kind.as_str() {
            "ServiceAccount" => {
                let sa: ServiceAccount = serde_norway::from_value(value).expect("ServiceAccount");
                assert_eq!(sa.metadata.name.as_deref(), Some("scalebench"));
            }
            "Role" => role = Some(serde_norway::from_value::<Role>(value).expect("Role")),
            "ClusterRole" => {
                cluster_role =
                    Some(serde_norway::from_value::<ClusterRole>(value).expect("ClusterRole"))
            }
            "RoleBinding" => {
                let b: RoleBinding = serde_norway::from_value(value).expect("RoleBinding");
                bindings.push((b.role_ref, b.subjects.unwrap_or_default()));
            }
            "ClusterRoleBinding" => {
                let b: ClusterRoleBinding =
                    serde_norway::from_value(value).expect("ClusterRoleBinding");
                bindings.push((b.role_ref, b.subjects.unwrap_or_default()));
            }
            other => panic!("unexpected kind {other}"),
        }
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding"
        ]
    );
    let role = role.expect("a Role");
    let cluster_role = cluster_role.expect("a ClusterRole");
    let watch: &[&str] = &["get", "list", "watch"];
    assert_eq!(
        grants(role.rules.as_deref().unwrap_or_default()),
        expect(&[
            ("", "pods", watch),
            ("", "pods/eviction", &["create"]),
            ("policy", "poddisruptionbudgets", watch),
            ("apps", "deployments", &["get", "list", "watch", "patch"]),
            ("apps", "deployments/scale", &["get", "patch", "update"]),
            (
                "autoscaling",
                "horizontalpodautoscalers",
                &["get", "list", "watch", "create", "patch", "delete"]
            ),
            (
                "keda.sh",
                "scaledobjects",
                &["get", "list", "watch", "create", "patch", "delete"]
            ),
            (
                "serving.knative.dev",
                "services",
                &["get", "list", "watch", "patch"]
            ),
        ])
    );
    assert_eq!(
        grants(cluster_role.rules.as_deref().unwrap_or_default()),
        expect(&[("", "nodes", &["get", "list", "watch", "patch", "delete"])])
    );
    // Both roles are bound, to the service account only.
    assert_eq!(bindings.len(), 2);
    for (role_ref, subjects) in &bindings {
        assert!(matches!(role_ref.kind.as_str(), "Role" | "ClusterRole"));
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].name, "scalebench");
    }
}
