//! The store's semantics: resourceVersions, uids, generations, the event log and its
//! compaction, selectors, apply, the PodDisruptionBudget check and the Scale.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::kind::Kind;
use crate::select::{Fields, Labels};
use crate::store::{Clock, EventType, Filter, Store, StoreError};

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

fn pod(name: &str, node: &str, app: &str, ready: bool) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
           "spec": {"nodeName": node, "containers": [{"name": "c"}]},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

fn store() -> Store {
    Store::with_clock(Box::new(Fixed))
}

fn rv(o: &Arc<Value>) -> &str {
    o["metadata"]["resourceVersion"].as_str().unwrap_or("")
}

#[test]
fn writes_bump_one_counter_and_stamp_objects() {
    let mut s = store();
    let a = s
        .create(Kind::Pod, "default", pod("a", "n1", "web", true))
        .expect("create a");
    let n = s
        .create(Kind::Node, "", json!({"metadata": {"name": "n1"}}))
        .expect("create node");
    assert_eq!((rv(&a), rv(&n)), ("1", "2"));
    assert_eq!(a["apiVersion"], "v1");
    assert_eq!(a["kind"], "Pod");
    assert_eq!(a["metadata"]["generation"], 1);
    assert_eq!(a["metadata"]["creationTimestamp"], "2027-01-15T08:00:00Z");
    assert!(n["metadata"].get("namespace").is_none());
    assert_ne!(a["metadata"]["uid"], n["metadata"]["uid"]);

    let b = s
        .patch(
            Kind::Pod,
            "default",
            "a",
            &json!({"metadata": {"labels": {"x": "y"}}}),
        )
        .expect("patch");
    assert_eq!(rv(&b), "3");
    assert_eq!(
        b["metadata"]["generation"], 1,
        "metadata changes keep the generation"
    );
    assert_eq!(b["metadata"]["uid"], a["metadata"]["uid"]);
    let c = s
        .patch(
            Kind::Pod,
            "default",
            "a",
            &json!({"spec": {"nodeName": "n2"}}),
        )
        .expect("patch spec");
    assert_eq!(c["metadata"]["generation"], 2);
    assert_eq!(s.resource_version(), 4);

    assert_eq!(
        s.create(Kind::Pod, "default", pod("a", "n1", "web", true)),
        Err(StoreError::AlreadyExists {
            kind: Kind::Pod,
            name: "a".into()
        })
    );
    assert_eq!(s.resource_version(), 4, "a failed write bumps nothing");
}

#[test]
fn invalid_objects_and_stale_preconditions_are_refused() {
    let mut s = store();
    // k8s-openapi 0.29 defaults missing required fields, so validation catches wrong types.
    let bad = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": 7}]}});
    assert!(matches!(
        s.create(Kind::Pod, "default", bad),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.create(Kind::Pod, "default", json!({"metadata": {}})),
        Err(StoreError::Invalid { .. })
    ));
    s.create(Kind::Pod, "default", pod("a", "n1", "web", true))
        .expect("create");
    let stale = json!({"metadata": {"resourceVersion": "0"}, "spec": {"nodeName": "x"}});
    assert!(matches!(
        s.patch(Kind::Pod, "default", "a", &stale),
        Err(StoreError::Conflict { .. })
    ));
    let mut put = pod("a", "n9", "web", true);
    put["metadata"]["resourceVersion"] = json!("1");
    assert!(s.replace(Kind::Pod, "default", put.clone(), true).is_ok());
    assert!(matches!(
        s.replace(Kind::Pod, "default", put, true),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.patch(Kind::Pod, "default", "zz", &json!({})),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn lists_select_by_namespace_labels_and_fields() {
    let mut s = store();
    s.create(Kind::Pod, "default", pod("a", "n1", "web", true))
        .expect("a");
    s.create(Kind::Pod, "default", pod("b", "n2", "db", true))
        .expect("b");
    let mut other = pod("c", "n1", "web", true);
    other["metadata"]["namespace"] = json!("other");
    s.create(Kind::Pod, "default", other).expect("c");
    let names = |f: &Filter| -> Vec<String> {
        s.list(Kind::Pod, f)
            .0
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(&Filter::default()), ["a", "b", "c"]);
    let on_n1 = Filter {
        fields: Fields::parse("spec.nodeName=n1").expect("f"),
        ..Filter::default()
    };
    assert_eq!(names(&on_n1), ["a", "c"]);
    let web_default = Filter {
        namespace: Some("default".into()),
        labels: Labels::parse("app in (web)").expect("l"),
        ..Filter::default()
    };
    assert_eq!(names(&web_default), ["a"]);
    assert_eq!(s.list(Kind::Pod, &Filter::default()).1, 3);
    assert!(s.list(Kind::Node, &Filter::default()).0.is_empty());
}

#[test]
fn event_log_resumes_and_expires() {
    let mut s = store().with_log_capacity(3);
    s.create(Kind::Pod, "default", pod("a", "n1", "web", true))
        .expect("a");
    s.create(Kind::Node, "", json!({"metadata": {"name": "n1"}}))
        .expect("n1");
    s.patch(
        Kind::Pod,
        "default",
        "a",
        &json!({"metadata": {"labels": {"v": "2"}}}),
    )
    .expect("patch");
    let deleted = s.delete(Kind::Pod, "default", "a").expect("delete");
    assert_eq!(rv(&deleted), "4");
    assert!(s.get(Kind::Pod, "default", "a").is_none());

    let pods: Vec<(u64, EventType)> = s
        .events_since(Kind::Pod, 1)
        .expect("resumable")
        .map(|e| (e.rv, e.event_type))
        .collect();
    assert_eq!(pods, [(3, EventType::Modified), (4, EventType::Deleted)]);
    assert_eq!(
        s.events_since(Kind::Pod, 0).err(),
        Some(StoreError::Expired {
            requested: 0,
            oldest: 1
        })
    );

    s.compact();
    assert_eq!(
        s.events_since(Kind::Pod, 3).err(),
        Some(StoreError::Expired {
            requested: 3,
            oldest: 4
        })
    );
    assert_eq!(
        s.events_since(Kind::Pod, 4).map(|e| e.count()).ok(),
        Some(0)
    );
}

#[test]
fn apply_creates_then_merges() {
    let mut s = store();
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"maxReplicas": 10, "minReplicas": 2,
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
    let (first, created) = s
        .apply(Kind::HorizontalPodAutoscaler, "default", "web", &hpa)
        .expect("create");
    assert!(created);
    let again = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "labels": {"team": "a"}}, "spec": {"maxReplicas": 20}});
    let (second, created) = s
        .apply(Kind::HorizontalPodAutoscaler, "default", "web", &again)
        .expect("merge");
    assert!(!created);
    assert_eq!(second["spec"]["maxReplicas"], 20);
    assert_eq!(second["spec"]["minReplicas"], 2);
    assert_eq!(second["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(second["metadata"]["generation"], 2);
    let missing_required = json!({"spec": {"maxReplicas": "ten"}});
    assert!(matches!(
        s.apply(
            Kind::HorizontalPodAutoscaler,
            "default",
            "web",
            &missing_required
        ),
        Err(StoreError::Invalid { .. })
    ));
}

fn pdb(spec: Value) -> Value {
    let mut spec = spec;
    spec["selector"] = json!({"matchLabels": {"app": "web"}});
    json!({"metadata": {"name": "web-pdb", "namespace": "default"}, "spec": spec})
}

#[test]
fn budgets_hold_back_evictions() {
    let mut s = store();
    for (name, ready) in [("a", true), ("b", true), ("c", false)] {
        s.create(Kind::Pod, "default", pod(name, "n1", "web", ready))
            .expect("pod");
    }
    s.create(Kind::Pod, "default", pod("other", "n1", "db", true))
        .expect("pod");
    assert_eq!(s.eviction_check("default", "a"), Ok(Ok(())), "no budget");

    s.create(
        Kind::PodDisruptionBudget,
        "default",
        pdb(json!({"minAvailable": 2})),
    )
    .expect("pdb");
    let blocked = s
        .eviction_check("default", "a")
        .expect("pod exists")
        .expect_err("2 of 2 healthy needed");
    assert_eq!(
        blocked.to_string(),
        "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"
    );
    assert_eq!(
        s.eviction_check("default", "c"),
        Ok(Ok(())),
        "an unready pod may go while the budget is met"
    );
    assert_eq!(
        s.eviction_check("default", "other"),
        Ok(Ok(())),
        "not selected"
    );
    assert!(matches!(
        s.eviction_check("default", "zz"),
        Err(StoreError::NotFound { .. })
    ));

    s.patch(
        Kind::PodDisruptionBudget,
        "default",
        "web-pdb",
        &json!({"spec": {"minAvailable": "34%"}}),
    )
    .expect("pct");
    assert!(
        s.eviction_check("default", "a").expect("pod").is_err(),
        "34% of 3 rounds up to 2"
    );
    s.patch(
        Kind::PodDisruptionBudget,
        "default",
        "web-pdb",
        &json!({"spec": {"minAvailable": "33%"}}),
    )
    .expect("pct");
    assert_eq!(
        s.eviction_check("default", "a"),
        Ok(Ok(())),
        "33% of 3 rounds up to 1"
    );
    let max = json!({"spec": {"minAvailable": null, "maxUnavailable": 0}});
    s.patch(Kind::PodDisruptionBudget, "default", "web-pdb", &max)
        .expect("max");
    assert!(
        s.eviction_check("default", "b").expect("pod").is_err(),
        "maxUnavailable 0"
    );
    s.patch(
        Kind::PodDisruptionBudget,
        "default",
        "web-pdb",
        &json!({"spec": {"maxUnavailable": "50%"}}),
    )
    .expect("max");
    assert_eq!(
        s.eviction_check("default", "b"),
        Ok(Ok(())),
        "3 - ceil(1.5) = 1 needed, 2 healthy"
    );
    s.patch(
        Kind::Pod,
        "default",
        "b",
        &json!({"status": {"phase": "Pending"}}),
    )
    .expect("pending");
    s.patch(
        Kind::PodDisruptionBudget,
        "default",
        "web-pdb",
        &json!({"spec": {"maxUnavailable": 0}}),
    )
    .expect("max");
    assert_eq!(
        s.eviction_check("default", "b"),
        Ok(Ok(())),
        "a Pending pod is never held back"
    );
}

#[test]
fn scale_reads_and_sets_replicas() {
    let mut s = store();
    let d = json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "c"}]}}},
        "status": {"replicas": 2}});
    s.create(Kind::Deployment, "default", d)
        .expect("deployment");
    let scale = s.scale("default", "web").expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let status = scale.status.expect("status");
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (2, Some("app=web"))
    );
    let d = s.set_replicas("default", "web", 5).expect("set");
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(matches!(
        s.scale("default", "nope"),
        Err(StoreError::NotFound { .. })
    ));
}
