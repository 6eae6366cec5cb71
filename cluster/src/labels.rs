//! What a node's labels say: its pool, its capacity type, its instance type.

use std::collections::BTreeMap;

use kube_objects::Labels;
use scalebench_core::scenario::CapacityType;

/// The node labels that name a pool, in the order they are tried: Karpenter's NodePool, an EKS
/// managed node group, a GKE node pool, an AKS agent pool.
pub const POOL_LABELS: [&str; 4] = [
    "karpenter.sh/nodepool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
];

/// The pool of a node that carries none of the pool labels.
pub const DEFAULT_POOL: &str = "default";

/// The well-known label of a node's instance type (the key of the price table).
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

/// The node's pool: `pool_label`'s value if given and present, else the first of
/// [`POOL_LABELS`] present, else [`DEFAULT_POOL`].
pub fn pool_of(labels: &BTreeMap<String, String>, pool_label: Option<&str>) -> String {
    pool_label
        .into_iter()
        .chain(POOL_LABELS)
        .find_map(|key| labels.get(key))
        .cloned()
        .unwrap_or_else(|| DEFAULT_POOL.to_string())
}

/// A capacity label's value read loosely: `spot`, `on-demand`, `ON_DEMAND`, `OnDemand`...
fn parse_capacity(value: &str) -> Option<CapacityType> {
    let v: String = value
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    match v.as_str() {
        "spot" => Some(CapacityType::Spot),
        "ondemand" => Some(CapacityType::OnDemand),
        _ => None,
    }
}

/// The node's capacity type: `capacity_label` first (its value read as `spot`/`on-demand` in
/// any case), then each provider's label from [`kube_objects::Labels`] (Karpenter's
/// `karpenter.sh/capacity-type`, EKS's `eks.amazonaws.com/capacityType`, GKE's
/// `cloud.google.com/gke-spot=true`, AKS's `kubernetes.azure.com/scalesetpriority=spot`); a node
/// that none of them calls spot is on-demand (GKE and AKS mark only spot nodes).
pub fn capacity_of(
    labels: &BTreeMap<String, String>,
    capacity_label: Option<&str>,
) -> CapacityType {
    if let Some(c) = capacity_label
        .and_then(|key| labels.get(key))
        .and_then(|v| parse_capacity(v))
    {
        return c;
    }
    for provider in Labels::ALL {
        let Some(value) = labels.get(provider.key()) else {
            continue;
        };
        if let Some(c) = [CapacityType::Spot, CapacityType::OnDemand]
            .into_iter()
            .find(|&c| provider.value(c) == Some(value.as_str()))
        {
            return c;
        }
    }
    CapacityType::OnDemand
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pools_from_the_known_labels_or_the_given_one() {
        let l = labels(&[
            ("eks.amazonaws.com/nodegroup", "gpu-ng"),
            ("team/pool", "mine"),
        ]);
        assert_eq!(pool_of(&l, None), "gpu-ng");
        assert_eq!(pool_of(&l, Some("team/pool")), "mine");
        assert_eq!(pool_of(&l, Some("absent")), "gpu-ng");
        assert_eq!(pool_of(&labels(&[]), None), "default");
        let both = labels(&[
            ("karpenter.sh/nodepool", "kp"),
            ("cloud.google.com/gke-nodepool", "gp"),
        ]);
        assert_eq!(pool_of(&both, None), "kp");
    }

    #[test]
    fn capacity_types_of_every_provider() {
        use CapacityType::{OnDemand, Spot};
        let cases = [
            (labels(&[("karpenter.sh/capacity-type", "spot")]), Spot),
            (
                labels(&[("karpenter.sh/capacity-type", "on-demand")]),
                OnDemand,
            ),
            (labels(&[("eks.amazonaws.com/capacityType", "SPOT")]), Spot),
            (
                labels(&[("eks.amazonaws.com/capacityType", "ON_DEMAND")]),
                OnDemand,
            ),
            (labels(&[("cloud.google.com/gke-spot", "true")]), Spot),
            (
                labels(&[("kubernetes.azure.com/scalesetpriority", "spot")]),
                Spot,
            ),
            (labels(&[("cloud.google.com/gke-nodepool", "p")]), OnDemand),
            (labels(&[]), OnDemand),
        ];
        for (l, want) in cases {
            assert_eq!(capacity_of(&l, None), want, "{l:?}");
        }
        let custom = labels(&[("lifecycle", "Ec2Spot"), ("x/cap", "SPOT")]);
        assert_eq!(capacity_of(&custom, Some("x/cap")), Spot);
        assert_eq!(capacity_of(&custom, Some("lifecycle")), OnDemand);
    }
}
