//! What clients ask of the API, carried out on the model under the testbed's lock: a scale of
//! the Deployment, an eviction, and the writes that change what the model does (a node
//! cordoned, uncordoned, tainted or deleted; a pod deleted; the Deployment's replicas
//! written). HPAs and other objects clients write are left in the store and ignored: the
//! testbed's autoscaler is its setup's policy.

use k8s_openapi::api::core::v1::Node;
use kubeapi::{Action, Change, Kind, OwnerMessage, Reply, Request};
use model::Refused;
use serde_json::Value;

use super::sync::Writer;
use crate::shared::Shared;

/// Carries out `message`; for a request, returns its reply and outcome, to be sent once the
/// store shows the result.
pub(crate) fn follow(
    shared: &Shared,
    writer: &mut Writer,
    message: OwnerMessage,
) -> Option<(Reply, Result<(), String>)> {
    match message {
        OwnerMessage::Request(request, reply) => Some((reply, carry_out(shared, writer, request))),
        OwnerMessage::Changed(change) => {
            changed(shared, writer, &change);
            None
        }
    }
}

fn carry_out(shared: &Shared, writer: &mut Writer, request: Request) -> Result<(), String> {
    match request {
        Request::Scale {
            namespace,
            name,
            replicas,
        } => {
            if namespace != writer.s.namespace || name != writer.s.deployment {
                // Not the model's: what the API server does without an owner.
                return writer
                    .handle()
                    .write(|s| s.set_replicas(&namespace, &name, replicas))
                    .map(drop)
                    .map_err(|e| e.to_string());
            }
            let replicas = u32::try_from(replicas).unwrap_or(0);
            shared.now().scale_to(replicas).map_err(|e| e.to_string())
        }
        Request::Evict { namespace, pod } => {
            let outcome = match writer.pod_id(&namespace, &pod) {
                Some(id) => shared.now().evict_pod(id),
                None => Err(Refused::NoSuchPod(u32::MAX)),
            };
            match outcome {
                // Already on its way out: as the API server, accept.
                Ok(()) | Err(Refused::PodTerminating(_) | Refused::PodGone(_)) => Ok(()),
                Err(Refused::NoSuchPod(_)) => writer
                    .handle()
                    .write(|s| s.delete(Kind::Pod, &namespace, &pod))
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// Whether a node's spec keeps new pods off it: `spec.unschedulable`, or a `NoSchedule` or
/// `NoExecute` taint (any key; `NoExecute` does not evict the pods already there).
pub(crate) fn keeps_pods_off(node: &Node) -> bool {
    let Some(spec) = &node.spec else {
        return false;
    };
    spec.unschedulable.unwrap_or(false)
        || spec
            .taints
            .iter()
            .flatten()
            .any(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
}

fn changed(shared: &Shared, writer: &mut Writer, change: &Change) {
    let outcome = match (change.kind, change.action) {
        (Kind::Node, Action::Deleted) => match writer.node_id(&change.name) {
            Some(id) => shared.now().remove_node(id),
            None => Ok(()),
        },
        (Kind::Node, _) => {
            let Some(id) = writer.node_id(&change.name) else {
                return;
            };
            let node: Option<Node> = writer.handle().read(|s| s.get_as("", &change.name));
            match node {
                Some(n) => shared.now().set_cordoned(id, keeps_pods_off(&n)),
                None => Ok(()),
            }
        }
        (Kind::Pod, Action::Deleted) => match writer.pod_id(&change.namespace, &change.name) {
            Some(id) => {
                writer.deleted_by_client(id);
                shared.now().remove_pod(id)
            }
            None => Ok(()),
        },
        (Kind::Deployment, action)
            if action != Action::Deleted
                && change.namespace == writer.s.namespace
                && change.name == writer.s.deployment =>
        {
            // spec.replicas written directly (an apply or edit with replicas): a scale.
            let asked = writer.handle().read(|s| {
                s.get(Kind::Deployment, &change.namespace, &change.name)
                    .and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_i64))
            });
            match asked {
                Some(r) if Some(r) != writer.replicas.map(i64::from) => {
                    shared.now().scale_to(u32::try_from(r).unwrap_or(0))
                }
                _ => Ok(()),
            }
        }
        _ => {
            tracing::debug!(kind = %change.kind, name = change.name, "a client's write left to the store");
            Ok(())
        }
    };
    match outcome {
        Ok(()) | Err(Refused::PodGone(_) | Refused::PodTerminating(_) | Refused::NodeGone(_)) => {}
        Err(e) => {
            tracing::warn!(kind = %change.kind, name = change.name, error = %e, "a client's change the model cannot follow")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(spec: Value) -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}, "spec": spec}))
            .unwrap_or_default()
    }

    #[test]
    fn a_cordon_or_a_no_schedule_or_no_execute_taint_keeps_pods_off() {
        use serde_json::json;
        assert!(!keeps_pods_off(&node(json!({}))));
        assert!(!keeps_pods_off(&node(json!({"unschedulable": false}))));
        assert!(keeps_pods_off(&node(json!({"unschedulable": true}))));
        for (effect, off) in [
            ("NoSchedule", true),
            ("NoExecute", true),
            ("PreferNoSchedule", false),
        ] {
            let n = node(json!({"taints": [{"key": "k", "value": "v", "effect": effect}]}));
            assert_eq!(keeps_pods_off(&n), off, "{effect}");
        }
    }
}
