//! What the mirror keeps of clients' writes, and the store's pinned clock.

use k8s_openapi::jiff::Timestamp;
use kubeapi::Clock;
use serde_json::{Value, json};

use super::sync::{PinClock, with_client_fields};

fn node(spec: Value, labels: Value) -> Value {
    json!({"kind": "Node", "metadata": {"name": "gpu-0", "labels": labels}, "spec": spec})
}

#[test]
fn a_node_keeps_its_clients_taints_cordon_and_labels() {
    let ours = node(json!({}), json!({"pool": "gpu"}));
    let theirs = node(
        json!({"unschedulable": true, "taints": [{"key": "a", "effect": "NoSchedule"}]}),
        json!({"pool": "old", "team": "x"}),
    );
    let out = with_client_fields(ours, Some(&theirs));
    assert_eq!(out["spec"]["unschedulable"], true);
    assert_eq!(
        out["spec"]["taints"],
        json!([{"key": "a", "effect": "NoSchedule"}])
    );
    assert_eq!(
        out["metadata"]["labels"],
        json!({"pool": "gpu", "team": "x"})
    );
    // Uncordoned and untainted by a client: so it stays.
    let out = with_client_fields(
        node(json!({}), json!({})),
        Some(&node(json!({}), json!({}))),
    );
    assert_eq!(out["spec"], json!({}));
}

#[test]
fn the_model_s_notice_taint_is_added_once_beside_the_clients() {
    let notice = json!({"key": "karpenter.sh/disrupted", "effect": "NoSchedule"});
    let ours = node(json!({"taints": [notice.clone()]}), json!({}));
    let theirs = node(
        json!({"taints": [{"key": "b", "effect": "NoExecute"}]}),
        json!({}),
    );
    let once = with_client_fields(ours.clone(), Some(&theirs));
    assert_eq!(
        once["spec"]["taints"],
        json!([{"key": "b", "effect": "NoExecute"}, notice.clone()])
    );
    let twice = with_client_fields(ours.clone(), Some(&once));
    assert_eq!(twice["spec"]["taints"], once["spec"]["taints"]);
    // A new node: the model's side as it is.
    assert_eq!(with_client_fields(ours.clone(), None), ours);
}

#[test]
fn a_pod_keeps_its_clients_labels_and_annotations_but_not_their_spec() {
    let ours = json!({"kind": "Pod", "metadata": {"labels": {"app": "model"}}, "spec": {"nodeName": "gpu-1"}});
    let theirs = json!({"kind": "Pod", "metadata": {"labels": {"app": "x", "v": "2"}, "annotations": {"note": "hi"}},
                        "spec": {"nodeName": "gpu-0", "unschedulable": true}});
    let out = with_client_fields(ours, Some(&theirs));
    assert_eq!(out["metadata"]["labels"], json!({"app": "model", "v": "2"}));
    assert_eq!(out["metadata"]["annotations"], json!({"note": "hi"}));
    assert_eq!(out["spec"], json!({"nodeName": "gpu-1"}));
}

#[test]
fn the_pinned_clock_stamps_only_inside_its_write() {
    let clock = PinClock::default();
    let at = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
    assert_eq!(clock.at(at, || clock.now()), at);
    assert!(clock.now() > at, "the system clock again");
}
