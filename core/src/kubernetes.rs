//! A real Kubernetes cluster as a scenario names it: the `[kubernetes]` table (defaults for
//! every setup) and `[setup.kubernetes]` (a setup's own values, field by field over those).
//!
//! [`Target`] is what the cluster driver's observer watches and how it prices the nodes;
//! [`Kubernetes`] adds what a run needs beside it (the endpoint, the setup's objects, where
//! faults may act, how long to wait for a settled start). Plain data, checked so that a
//! mistake names its field; the `cluster` crate turns it into API calls.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::scenario::CapacityType;
use crate::units::Duration;
use serde::{Deserialize, Serialize};

/// The serving workload to observe and how to price its nodes (also readable on its own, as
/// TOML, by [`Target::from_toml`]).
///
/// ```toml
/// namespace = "bench"
/// selector = "app=model"
/// deployment = "model"
/// autoscaler = { kind = "hpa", name = "model" }
/// prices = [
///     { instance_type = "g5.xlarge", capacity_type = "spot", usd_per_hour = 0.45 },
///     { instance_type = "g5.xlarge", capacity_type = "on-demand", usd_per_hour = 1.006 },
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The kubeconfig context to use; none: the kubeconfig's current context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Use the in-cluster configuration (service account token, `KUBERNETES_SERVICE_HOST`)
    /// instead of a kubeconfig; excludes `context` and `kubeconfig`.
    #[serde(default)]
    pub in_cluster: bool,
    /// The kubeconfig file; none: `$KUBECONFIG`, else `~/.kube/config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of the workload (a DNS-1123 label).
    pub namespace: String,
    /// The label selector of the serving pods, e.g. `app=model`.
    pub selector: String,
    /// The workload's Deployment (for Knative, the revision's Deployment).
    pub deployment: String,
    /// The autoscaler whose desired replicas are read; default `none`.
    #[serde(default)]
    pub autoscaler: Autoscaler,
    /// A node label naming the pool, tried before the known ones (Karpenter's nodepool, EKS's
    /// nodegroup, GKE's node pool, AKS's agent pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_label: Option<String>,
    /// A node label whose value (`spot`, `on-demand`, in any case, `_` for `-`) says the capacity
    /// type, tried before the known ones (Karpenter, EKS, GKE, AKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_label: Option<String>,
    /// A label selector of the nodes to count and price; none: the nodes that host a selected pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    /// What a node costs, by instance type and capacity type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<Price>,
    /// What one ready replica costs per hour (serverless endpoints billed per replica); added to
    /// the nodes' cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_replica_usd_per_hour: Option<f64>,
}

/// `autoscaler = { kind, name }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Autoscaler {
    /// Which autoscaler drives the Deployment.
    pub kind: AutoscalerKind,
    /// The HPA (`hpa`) or ScaledObject (`keda`); default: the Deployment's name. Not read for
    /// `knative` and `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The kinds of autoscaler the observer knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoscalerKind {
    /// An autoscaling/v2 HorizontalPodAutoscaler named `name`.
    Hpa,
    /// A KEDA ScaledObject named `name`: the HPA read is KEDA's `keda-hpa-<name>`.
    Keda,
    /// Knative's autoscaler, which scales the Deployment: desired replicas are its
    /// `spec.replicas`.
    Knative,
    /// No autoscaler: desired replicas are the Deployment's `spec.replicas`.
    #[default]
    None,
}

/// One row of the price table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// The node's `node.kubernetes.io/instance-type`.
    pub instance_type: String,
    /// `spot` or `on-demand`.
    pub capacity_type: CapacityType,
    /// Dollars per node-hour.
    pub usd_per_hour: f64,
}

/// Why a [`Target`] cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML does not parse or does not fit the schema (unknown field, wrong type); the
    /// message carries the line and column.
    #[error("the cluster target does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// A field holds a value the observer cannot use.
    #[error("cluster target: `{field}` {expected}")]
    Invalid {
        /// The field, as written in TOML (`prices[1].usd_per_hour`).
        field: String,
        /// What was expected, and what was found.
        expected: String,
    },
}

fn invalid(field: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        expected: expected.into(),
    }
}

/// Whether `s` is a DNS-1123 label (a namespace or most object names).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS-1123 subdomain (a Deployment's or an HPA's name).
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

impl Target {
    /// Parses and validates a target from TOML.
    pub fn from_toml(text: &str) -> Result<Target, ConfigError> {
        let target: Target = toml::from_str(text)?;
        target.validate()?;
        Ok(target)
    }

    /// The name of the HPA to read, if any: `name` for `hpa`, `keda-hpa-<name>` for `keda`
    /// (`name` defaulting to the Deployment's).
    pub fn hpa_name(&self) -> Option<String> {
        let name = || {
            self.autoscaler
                .name
                .clone()
                .unwrap_or_else(|| self.deployment.clone())
        };
        match self.autoscaler.kind {
            AutoscalerKind::Hpa => Some(name()),
            AutoscalerKind::Keda => Some(format!("keda-hpa-{}", name())),
            AutoscalerKind::Knative | AutoscalerKind::None => None,
        }
    }

    /// The price of a node-hour of `instance_type` on `capacity_type`, if the table has it.
    pub fn price(&self, instance_type: &str, capacity_type: CapacityType) -> Option<f64> {
        self.prices
            .iter()
            .find(|p| p.instance_type == instance_type && p.capacity_type == capacity_type)
            .map(|p| p.usd_per_hour)
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.in_cluster && self.context.is_some() {
            return Err(invalid(
                "context",
                "must be absent with in_cluster = true (in-cluster config has no contexts)",
            ));
        }
        if self.in_cluster && self.kubeconfig.is_some() {
            return Err(invalid(
                "kubeconfig",
                "must be absent with in_cluster = true",
            ));
        }
        if let Some(c) = &self.context
            && c.trim().is_empty()
        {
            return Err(invalid("context", "must name a context, found \"\""));
        }
        if !is_dns_label(&self.namespace) {
            return Err(invalid(
                "namespace",
                format!(
                    "must be a DNS-1123 label (lower-case letters, digits, '-'), found {:?}",
                    self.namespace
                ),
            ));
        }
        if self.selector.trim().is_empty() {
            return Err(invalid(
                "selector",
                "must be a label selector of the serving pods (e.g. \"app=model\"), found \"\"",
            ));
        }
        if !is_dns_subdomain(&self.deployment) {
            return Err(invalid(
                "deployment",
                format!(
                    "must be a Deployment's name (a DNS-1123 subdomain), found {:?}",
                    self.deployment
                ),
            ));
        }
        if let Some(name) = &self.autoscaler.name {
            match self.autoscaler.kind {
                AutoscalerKind::Hpa | AutoscalerKind::Keda if !is_dns_subdomain(name) => {
                    return Err(invalid(
                        "autoscaler.name",
                        format!("must be an object's name (a DNS-1123 subdomain), found {name:?}"),
                    ));
                }
                AutoscalerKind::None => {
                    return Err(invalid(
                        "autoscaler.name",
                        "must be absent with kind = \"none\"",
                    ));
                }
                _ => {}
            }
        }
        for (field, label) in [
            ("pool_label", &self.pool_label),
            ("capacity_label", &self.capacity_label),
        ] {
            if let Some(l) = label
                && (l.is_empty() || l.contains(char::is_whitespace))
            {
                return Err(invalid(
                    field,
                    format!("must be a node label key, found {l:?}"),
                ));
            }
        }
        if let Some(s) = &self.node_selector
            && s.trim().is_empty()
        {
            return Err(invalid(
                "node_selector",
                "must be a label selector of nodes, found \"\" (leave it out to count the nodes of the selected pods)",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.prices.iter().enumerate() {
            if p.instance_type.trim().is_empty() {
                return Err(invalid(
                    format!("prices[{i}].instance_type"),
                    "must be a node.kubernetes.io/instance-type value, found \"\"",
                ));
            }
            if !(p.usd_per_hour.is_finite() && p.usd_per_hour >= 0.0) {
                return Err(invalid(
                    format!("prices[{i}].usd_per_hour"),
                    format!("must be a finite number >= 0, found {}", p.usd_per_hour),
                ));
            }
            if !seen.insert((p.instance_type.as_str(), p.capacity_type.as_str())) {
                return Err(invalid(
                    format!("prices[{i}]"),
                    format!(
                        "must not repeat instance type {:?} on {}",
                        p.instance_type,
                        p.capacity_type.as_str()
                    ),
                ));
            }
        }
        if let Some(r) = self.per_replica_usd_per_hour
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(invalid(
                "per_replica_usd_per_hour",
                format!("must be a finite number >= 0, found {r}"),
            ));
        }
        Ok(())
    }
}

/// What a setup run on a real cluster needs: the workload to observe and price ([`Target`]),
/// the endpoint to load, the objects to apply before the run, where faults may act, and how
/// long to wait for a settled start. From `[kubernetes]` and `[setup.kubernetes]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kubernetes {
    /// The workload to observe and how to price it.
    pub target: Target,
    /// The endpoint the load goes to (the Service, Ingress or gateway in front of the pods).
    pub url: String,
    /// A YAML file of the setup's objects (a Deployment, an HPA, a KEDA ScaledObject, a Knative
    /// Service, as `scalebench manifests` writes them), server-side applied before the run and
    /// restored after; `None`: nothing is applied, the Deployment is only scaled to the setup's
    /// initial replicas. Resolved against the scenario's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<PathBuf>,
    /// The namespaces faults may act in (evict pods); default: the target's namespace only.
    pub allow_namespaces: Vec<String>,
    /// A spot interruption deletes the Node when its notice ends (after evicting its pods);
    /// default false: the node stays, tainted, until the run ends and the taint is undone.
    pub delete_interrupted_nodes: bool,
    /// How long ready must equal desired, without a break, before the load starts (30 s).
    pub settle: Duration,
    /// The bound on that wait (10 min): past it the setup fails, naming what is not ready.
    pub settle_timeout: Duration,
}

/// The default of [`Kubernetes::settle`].
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);
/// The default of [`Kubernetes::settle_timeout`].
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

/// `[kubernetes]` or `[setup.kubernetes]` as written: every field optional, a setup's over the
/// scenario's ([`KubernetesFile::over`]), then checked as a whole ([`KubernetesFile::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesFile {
    /// See [`Kubernetes::url`].
    pub url: Option<String>,
    /// See [`Target::context`].
    pub context: Option<String>,
    /// See [`Target::in_cluster`].
    pub in_cluster: Option<bool>,
    /// See [`Target::kubeconfig`].
    pub kubeconfig: Option<PathBuf>,
    /// See [`Target::namespace`].
    pub namespace: Option<String>,
    /// See [`Target::selector`].
    pub selector: Option<String>,
    /// See [`Target::deployment`].
    pub deployment: Option<String>,
    /// See [`Target::autoscaler`].
    pub autoscaler: Option<Autoscaler>,
    /// See [`Target::pool_label`].
    pub pool_label: Option<String>,
    /// See [`Target::capacity_label`].
    pub capacity_label: Option<String>,
    /// See [`Target::node_selector`].
    pub node_selector: Option<String>,
    /// See [`Target::prices`].
    pub prices: Option<Vec<Price>>,
    /// See [`Target::per_replica_usd_per_hour`].
    pub per_replica_usd_per_hour: Option<f64>,
    /// See [`Kubernetes::manifests`].
    pub manifests: Option<PathBuf>,
    /// See [`Kubernetes::allow_namespaces`].
    pub allow_namespaces: Option<Vec<String>>,
    /// See [`Kubernetes::delete_interrupted_nodes`].
    pub delete_interrupted_nodes: Option<bool>,
    /// See [`Kubernetes::settle`].
    pub settle: Option<Duration>,
    /// See [`Kubernetes::settle_timeout`].
    pub settle_timeout: Option<Duration>,
}

impl KubernetesFile {
    /// This table's fields over `base`'s: each field this one sets wins.
    pub fn over(&self, base: &KubernetesFile) -> KubernetesFile {
        let s = self.clone();
        let b = base.clone();
        KubernetesFile {
            url: s.url.or(b.url),
            context: s.context.or(b.context),
            in_cluster: s.in_cluster.or(b.in_cluster),
            kubeconfig: s.kubeconfig.or(b.kubeconfig),
            namespace: s.namespace.or(b.namespace),
            selector: s.selector.or(b.selector),
            deployment: s.deployment.or(b.deployment),
            autoscaler: s.autoscaler.or(b.autoscaler),
            pool_label: s.pool_label.or(b.pool_label),
            capacity_label: s.capacity_label.or(b.capacity_label),
            node_selector: s.node_selector.or(b.node_selector),
            prices: s.prices.or(b.prices),
            per_replica_usd_per_hour: s.per_replica_usd_per_hour.or(b.per_replica_usd_per_hour),
            manifests: s.manifests.or(b.manifests),
            allow_namespaces: s.allow_namespaces.or(b.allow_namespaces),
            delete_interrupted_nodes: s.delete_interrupted_nodes.or(b.delete_interrupted_nodes),
            settle: s.settle.or(b.settle),
            settle_timeout: s.settle_timeout.or(b.settle_timeout),
        }
    }

    /// The whole of it checked; relative paths (`kubeconfig`, `manifests`) are taken from
    /// `dir`, the scenario's directory. The error names the field and what was expected.
    pub fn resolve(self, dir: &Path) -> Result<Kubernetes, ConfigError> {
        let required = |v: Option<String>, field: &str, example: &str| {
            v.ok_or_else(|| invalid(field, format!("is required (e.g. {field} = {example:?})")))
        };
        let url = required(self.url, "url", "http://model.bench.svc/predict")?;
        if !matches!(url.split_once("://"), Some(("http" | "https", rest)) if !rest.is_empty()) {
            return Err(invalid(
                "url",
                format!("must be an http:// or https:// URL, found {url:?}"),
            ));
        }
        let target = Target {
            context: self.context,
            in_cluster: self.in_cluster.unwrap_or(false),
            kubeconfig: self.kubeconfig.map(|p| dir.join(p)),
            namespace: required(self.namespace, "namespace", "bench")?,
            selector: required(self.selector, "selector", "app=model")?,
            deployment: required(self.deployment, "deployment", "model")?,
            autoscaler: self.autoscaler.unwrap_or_default(),
            pool_label: self.pool_label,
            capacity_label: self.capacity_label,
            node_selector: self.node_selector,
            prices: self.prices.unwrap_or_default(),
            per_replica_usd_per_hour: self.per_replica_usd_per_hour,
        };
        target.validate()?;
        let allow_namespaces = self
            .allow_namespaces
            .unwrap_or_else(|| vec![target.namespace.clone()]);
        if let Some(bad) = allow_namespaces.iter().find(|n| !is_dns_label(n)) {
            return Err(invalid(
                "allow_namespaces",
                format!("must list namespaces (DNS-1123 labels), found {bad:?}"),
            ));
        }
        let settle = self.settle.unwrap_or(DEFAULT_SETTLE);
        let settle_timeout = self.settle_timeout.unwrap_or(DEFAULT_SETTLE_TIMEOUT);
        if settle_timeout <= settle {
            return Err(invalid(
                "settle_timeout",
                format!("must be longer than settle ({settle}), found {settle_timeout}"),
            ));
        }
        Ok(Kubernetes {
            target,
            url,
            manifests: self.manifests.map(|p| dir.join(p)),
            allow_namespaces,
            delete_interrupted_nodes: self.delete_interrupted_nodes.unwrap_or(false),
            settle,
            settle_timeout,
        })
    }
}
