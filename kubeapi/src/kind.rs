//! The kinds this API serves, with what discovery, routing and the store need to know of each.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::Value;

/// A kind of object the store holds and the server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `v1` Pod.
    Pod,
    /// `v1` Node (cluster-scoped).
    Node,
    /// `apps/v1` Deployment (with the `scale` subresource).
    Deployment,
    /// `apps/v1` DaemonSet (kubectl drain looks up the owners of the pods it ignores).
    DaemonSet,
    /// `autoscaling/v2` HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// `policy/v1` PodDisruptionBudget, checked on eviction.
    PodDisruptionBudget,
}

impl Kind {
    /// Every kind served.
    pub const ALL: [Kind; 6] = [
        Kind::Pod,
        Kind::Node,
        Kind::Deployment,
        Kind::DaemonSet,
        Kind::HorizontalPodAutoscaler,
        Kind::PodDisruptionBudget,
    ];

    /// The `kind` field of an object.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::Deployment => "Deployment",
            Kind::DaemonSet => "DaemonSet",
            Kind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
        }
    }

    /// The `apiVersion` field of an object (`group/version`, or `v1` for the core group).
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Pod | Kind::Node => "v1",
            Kind::Deployment | Kind::DaemonSet => "apps/v1",
            Kind::HorizontalPodAutoscaler => "autoscaling/v2",
            Kind::PodDisruptionBudget => "policy/v1",
        }
    }

    /// The resource name in URLs (`pods`, `horizontalpodautoscalers`...).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Node => "nodes",
            Kind::Deployment => "deployments",
            Kind::DaemonSet => "daemonsets",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            Kind::PodDisruptionBudget => "poddisruptionbudgets",
        }
    }

    /// The singular resource name, as discovery lists it.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Node => "node",
            Kind::Deployment => "deployment",
            Kind::DaemonSet => "daemonset",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscaler",
            Kind::PodDisruptionBudget => "poddisruptionbudget",
        }
    }

    /// The short names kubectl accepts (`po`, `no`, `deploy`...).
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["po"],
            Kind::Node => &["no"],
            Kind::Deployment => &["deploy"],
            Kind::DaemonSet => &["ds"],
            Kind::HorizontalPodAutoscaler => &["hpa"],
            Kind::PodDisruptionBudget => &["pdb"],
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Kind::Node
    }

    /// The kind with this `apiVersion` and resource name.
    pub fn from_resource(api_version: &str, plural: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.api_version() == api_version && k.plural() == plural)
    }

    /// The kind of a k8s-openapi type.
    pub fn of<K: k8s_openapi::Resource>() -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.api_version() == K::API_VERSION && k.name() == K::KIND)
    }

    /// Checks that `object` deserializes into this kind's k8s-openapi type: the store keeps
    /// JSON, but only JSON a typed client can read back.
    pub fn validate(self, object: &Value) -> Result<(), serde_json::Error> {
        fn check<K: serde::de::DeserializeOwned>(v: &Value) -> Result<(), serde_json::Error> {
            K::deserialize(v).map(drop)
        }
        match self {
            Kind::Pod => check::<Pod>(object),
            Kind::Node => check::<Node>(object),
            Kind::Deployment => check::<Deployment>(object),
            Kind::DaemonSet => check::<DaemonSet>(object),
            Kind::HorizontalPodAutoscaler => check::<HorizontalPodAutoscaler>(object),
            Kind::PodDisruptionBudget => check::<PodDisruptionBudget>(object),
        }
    }

    /// The API groups served, each with its one version, in discovery order.
    pub fn group_versions() -> [(&'static str, &'static str); 3] {
        [("apps", "v1"), ("autoscaling", "v2"), ("policy", "v1")]
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.plural())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_k8s_openapi() {
        assert_eq!(Kind::of::<Pod>(), Some(Kind::Pod));
        assert_eq!(
            Kind::of::<HorizontalPodAutoscaler>(),
            Some(Kind::HorizontalPodAutoscaler)
        );
        assert_eq!(
            Kind::of::<PodDisruptionBudget>(),
            Some(Kind::PodDisruptionBudget)
        );
        assert_eq!(
            Kind::from_resource("apps/v1", "deployments"),
            Some(Kind::Deployment)
        );
        assert_eq!(Kind::from_resource("v1", "deployments"), None);
    }
}
