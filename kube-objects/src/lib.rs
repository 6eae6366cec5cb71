//! The bridge between a simulated setup and a cluster: the Kubernetes objects a scalebench
//! [`Setup`] stands for, and the way back.
//!
//! [`write()`] turns a setup of a [`Plan`] into [`Objects`]: a Deployment (or, for KPA, a Knative
//! Service in its place) and the autoscaler object its policy is (an autoscaling/v2
//! HorizontalPodAutoscaler, a KEDA ScaledObject, Knative's autoscaling annotations); [`to_yaml`]
//! writes them as one multi-document YAML file. [`parse_yaml`] and [`read`] go the other way, for
//! the cluster driver: from the objects a setup carries back to its [`PolicyConfig`], initial
//! replicas, warm pool and the rest the objects hold.
//!
//! Where the simulator has a knob Kubernetes has not (the HPA's sync period, the warm pool, the
//! scrape delay, KPA settings that are cluster-wide in Knative), the value travels in a
//! `scalebench.io/...` annotation, so the way back is exact; `docs/kubernetes.md` lists each.
//! This crate is plain data: it depends on the scenario types only, never on a driver.

mod keda;
mod knative;
mod pod;
mod quantity;
mod read;
mod scale;
mod yaml;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use scalebench_core::policy::PolicyConfig;
use scalebench_core::{Plan, Setup};

pub use keda::ScaledObject;
pub use knative::KnativeService;
pub use pod::{GPU_RESOURCE, Labels};
pub use read::{Recovered, read};
pub use yaml::{parse_yaml, to_yaml};

/// The prefix of every annotation scalebench writes.
pub const ANNOTATION_PREFIX: &str = "scalebench.io/";

/// How the objects are named and placed.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// metadata.namespace of every object; none leaves it to `kubectl apply -n`.
    pub namespace: Option<String>,
    /// The workload's name (Deployment, HPA, ScaledObject, Knative Service); default: the
    /// setup's name made a valid DNS-1123 label.
    pub name: Option<String>,
    /// Which node labels express spot and on-demand capacity.
    pub labels: Labels,
}

/// The Kubernetes objects of one setup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Objects {
    /// The workload (every policy but KPA, whose Knative Service owns its own Deployment).
    pub deployment: Option<Deployment>,
    /// The HPA of an `hpa` setup.
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// The ScaledObject of a `keda` setup.
    pub scaled_object: Option<ScaledObject>,
    /// The Knative Service of a `kpa` setup.
    pub knative: Option<KnativeService>,
    /// What the objects cannot say, one sentence each, written as comments at the top of the
    /// YAML (and printed by the command).
    pub notes: Vec<String>,
}

/// Why objects could not be written, read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML could not be written.
    #[error("cannot write {what} as YAML")]
    Write {
        /// Which object.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_norway::Error,
    },
    /// A YAML document could not be parsed into the object its `kind` names.
    #[error("document {index} ({kind}): not a valid {kind}")]
    Parse {
        /// 1-based document number.
        index: usize,
        /// The document's kind.
        kind: String,
        /// The parser's error, with line and column.
        #[source]
        source: serde_norway::Error,
    },
    /// A document of a kind this crate does not read.
    #[error(
        "document {index}: unexpected {api_version} {kind} (expected a Deployment, a HorizontalPodAutoscaler, a KEDA ScaledObject or a Knative Service)"
    )]
    UnexpectedKind {
        /// 1-based document number.
        index: usize,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
    },
    /// The objects do not describe a setup: something is missing or out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The objects `setup` (one of `plan`'s setups) stands for.
pub fn write(plan: &Plan, setup: &Setup, opts: &Options) -> Objects {
    let name = opts.name.clone().unwrap_or_else(|| dns_label(&setup.name));
    let ctx = pod::Context {
        plan,
        setup,
        name: &name,
        namespace: opts.namespace.as_deref(),
        labels: opts.labels,
    };
    let mut notes = pod::notes(&ctx);
    let mut objects = Objects::default();
    match &setup.policy {
        PolicyConfig::Fixed(_) => objects.deployment = Some(pod::deployment(&ctx)),
        PolicyConfig::Hpa(c) => {
            objects.deployment = Some(pod::deployment(&ctx));
            objects.hpa = Some(scale::hpa(&ctx, c));
            notes.extend(scale::hpa_notes(c));
        }
        PolicyConfig::Keda(c) => {
            objects.deployment = Some(pod::deployment(&ctx));
            objects.scaled_object = Some(keda::scaled_object(&ctx, c));
            notes.extend(keda::notes(c));
        }
        PolicyConfig::Kpa(c) => {
            objects.knative = Some(knative::service(&ctx, c));
            notes.extend(knative::notes(c));
            if setup.initial_replicas != setup.policy.initial_replicas() {
                notes.push(format!(
                    "kpa: the setup starts at {} replicas (scalebench.io/initial-replicas) where the policy's initial-scale gives {}: Knative has only initial-scale, so a revision starts at the latter",
                    setup.initial_replicas,
                    setup.policy.initial_replicas()
                ));
            }
        }
        PolicyConfig::CostAware(_) => {
            objects.deployment = Some(pod::deployment(&ctx));
            notes.push(COST_AWARE_NOTE.to_string());
        }
    }
    objects.notes = notes;
    objects
}

/// What `write` says of a cost-aware setup.
pub const COST_AWARE_NOTE: &str = "the cost-aware policy is scalebench's own and cannot be expressed as a Kubernetes autoscaler: only the Deployment is written, at the setup's initial replicas, with the policy's settings in the scalebench.io/cost-aware annotation";

/// `s` made a DNS-1123 label: lower case, `[a-z0-9-]`, at most 63 characters, starting and
/// ending with an alphanumeric ("setup" when nothing is left).
pub fn dns_label(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect();
    let mut out = String::new();
    for c in mapped.chars() {
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "setup".into() } else { out }
}

#[cfg(test)]
mod tests;
