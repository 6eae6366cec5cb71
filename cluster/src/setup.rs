//! A setup's objects applied to the cluster before its run and the originals put back after:
//! [`Setup`].

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube_objects::Objects;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::act::{Act, ActError};

/// Why a setup could not be applied or restored.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The YAML does not hold a setup's objects.
    #[error("the setup's objects: {0}")]
    Objects(#[from] kube_objects::Error),
    /// An object could not be turned into JSON, or lacks its name.
    #[error("the setup's {kind}: {why}")]
    Invalid {
        /// The object's kind.
        kind: String,
        /// What is wrong.
        why: String,
    },
    /// A write failed.
    #[error(transparent)]
    Call(#[from] ActError),
    /// A read failed.
    #[error("reading {what}: {source}")]
    Read {
        /// What was read.
        what: String,
        /// kube's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The Deployment did not settle in time.
    #[error(
        "deployment {namespace}/{name}: {ready} of {desired} replicas ready and {updated} updated{stale}, not {settle:?} in a row within {timeout:?}"
    )]
    NotReady {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Ready replicas when the wait ended.
        ready: i32,
        /// Replicas of the current template when the wait ended.
        updated: i32,
        /// `" (its controller has not seen the latest spec)"` or nothing.
        stale: &'static str,
        /// Desired replicas when the wait ended.
        desired: i32,
        /// How long they had to stay equal.
        settle: Duration,
        /// How long it waited.
        timeout: Duration,
    },
    /// Some originals could not be put back (each failure named); the rest were.
    #[error("restoring the originals: {}", .0.join("; "))]
    Restore(Vec<String>),
}

/// How long to wait for a setup to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// Ready must equal desired this long, without a break.
    pub settle: Duration,
    /// The whole wait's bound.
    pub timeout: Duration,
    /// Between two reads of the Deployment.
    pub poll: Duration,
}

impl Default for Settle {
    /// 30 s settled within 10 minutes, read every 2 s.
    fn default() -> Settle {
        Settle {
            settle: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
            poll: Duration::from_secs(2),
        }
    }
}

/// One object of the setup and what was there before.
#[derive(Debug, Clone)]
struct Object {
    resource: ApiResource,
    name: String,
    applied: Value,
    /// The object as it was before the apply (`None`: it did not exist).
    original: Option<Value>,
}

/// What [`Setup::apply`] found and did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// `Kind/name` of each object created (deleted again on restore).
    pub created: Vec<String>,
    /// `Kind/name` of each object changed (put back on restore).
    pub changed: Vec<String>,
    /// The Deployment's replicas before (restored on restore).
    pub original_replicas: Option<i32>,
    /// The replicas the setup starts from.
    pub initial_replicas: Option<i32>,
}

/// A setup's objects (a Deployment and an HPA, a KEDA ScaledObject or a Knative Service, as
/// `scalebench manifests` writes them) in one namespace. [`apply`](Setup::apply) keeps the
/// current objects, server-side applies the new ones (field manager `scalebench`, force),
/// scales the Deployment to the setup's initial replicas through its scale subresource and
/// waits until it is ready; [`restore`](Setup::restore) puts the originals back.
#[derive(Debug)]
pub struct Setup {
    act: Act,
    namespace: String,
    objects: Vec<Object>,
    deployment: Option<(String, i32)>,
    applied: Option<Applied>,
}

fn resource_of(v: &Value) -> Result<(ApiResource, String), SetupError> {
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let kind = field("kind");
    let api_version = field("apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
    if name.is_empty() || version.is_empty() {
        return Err(SetupError::Invalid {
            kind,
            why: "needs apiVersion and metadata.name".into(),
        });
    }
    let gvk = GroupVersionKind::gvk(group, version, &kind);
    Ok((ApiResource::from_gvk(&gvk), name))
}

/// The object to apply again: name, namespace, labels, annotations and the rest of its body,
/// without status and server-set metadata.
fn reapplicable(mut v: Value, resource: &ApiResource) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        o.insert("apiVersion".into(), resource.api_version.clone().into());
        o.insert("kind".into(), resource.kind.clone().into());
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations"));
    }
    v
}

fn without_replicas(mut v: Value) -> Value {
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("replicas");
    }
    v
}

impl Setup {
    /// The setup in `yaml` (as `scalebench manifests` writes it), to go to `namespace`.
    pub fn from_yaml(act: Act, namespace: &str, yaml: &str) -> Result<Setup, SetupError> {
        Setup::from_objects(act, namespace, &kube_objects::parse_yaml(yaml)?)
    }

    /// The setup's `objects`, to go to `namespace` (their own namespace is overridden).
    pub fn from_objects(act: Act, namespace: &str, objects: &Objects) -> Result<Setup, SetupError> {
        fn json<T: Serialize>(kind: &str, o: &T) -> Result<Value, SetupError> {
            serde_json::to_value(o).map_err(|e| SetupError::Invalid {
                kind: kind.into(),
                why: e.to_string(),
            })
        }
        let values = [
            objects.deployment.as_ref().map(|d| json("Deployment", d)),
            objects.knative.as_ref().map(|k| json("Service", k)),
            objects
                .hpa
                .as_ref()
                .map(|h| json("HorizontalPodAutoscaler", h)),
            objects
                .scaled_object
                .as_ref()
                .map(|s| json("ScaledObject", s)),
        ];
        let deployment = objects.deployment.as_ref().map(|d| {
            let name = d.metadata.name.clone().unwrap_or_default();
            (name, d.spec.replicas.unwrap_or(1))
        });
        let mut out = Vec::new();
        for v in values.into_iter().flatten() {
            let mut v = v?;
            v["metadata"]["namespace"] = Value::String(namespace.to_string());
            let (resource, name) = resource_of(&v)?;
            let applied = if resource.kind == "Deployment" {
                // The replicas go through the scale subresource: an apply that owned
                // spec.replicas would fight the autoscaler.
                without_replicas(v)
            } else {
                v
            };
            out.push(Object {
                resource,
                name,
                applied,
                original: None,
            });
        }
        Ok(Setup {
            act,
            namespace: namespace.to_string(),
            objects: out,
            deployment,
            applied: None,
        })
    }

    /// Brings the Deployment `name` to `replicas` before the run (through its scale
    /// subresource) and back after, whatever the objects say: the scenario's setup decides
    /// where a run starts. With no objects, this alone is the setup.
    pub fn scaling(mut self, name: &str, replicas: i32) -> Setup {
        self.deployment = Some((name.to_string(), replicas));
        self
    }

    /// A setup with no objects of its own, in `namespace`: see [`Setup::scaling`].
    pub fn empty(act: Act, namespace: &str) -> Setup {
        Setup {
            act,
            namespace: namespace.to_string(),
            objects: Vec::new(),
            deployment: None,
            applied: None,
        }
    }

    fn api(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.act.client().clone(), &self.namespace, resource)
    }

    /// Keeps the current objects, applies the setup's, scales the Deployment to its initial
    /// replicas and waits until its rollout is done (the latest spec seen, every replica updated, ready, none
    /// of an old template) for `settle.settle` (not under dry-run).
    pub async fn apply(&mut self, settle: Settle) -> Result<Applied, SetupError> {
        let mut report = Applied::default();
        for i in 0..self.objects.len() {
            let (resource, name) = (
                self.objects[i].resource.clone(),
                self.objects[i].name.clone(),
            );
            let current =
                self.api(&resource)
                    .get_opt(&name)
                    .await
                    .map_err(|source| SetupError::Read {
                        what: format!("{} {}/{name}", resource.kind, self.namespace),
                        source: Box::new(source),
                    })?;
            if current.is_none() && matches!(resource.kind.as_str(), "Deployment" | "Service") {
                // The workload is the user's: scalebench changes it and puts it back, it does
                // not create it (deploy/rbac.yaml grants no create on it).
                return Err(SetupError::Invalid {
                    kind: resource.kind.clone(),
                    why: format!(
                        "{}/{name} does not exist: deploy the workload first (a setup changes it, never creates it)",
                        self.namespace
                    ),
                });
            }
            let label = format!("{}/{name}", resource.kind);
            match &current {
                Some(_) => report.changed.push(label),
                None => report.created.push(label),
            }
            self.objects[i].original = current
                .map(|o| serde_json::to_value(o).map(|v| reapplicable(v, &resource)))
                .transpose()
                .map_err(|e| SetupError::Invalid {
                    kind: resource.kind.clone(),
                    why: e.to_string(),
                })?;
        }
        if let Some((name, _)) = &self.deployment {
            // It must exist (a setup changes the workload, never creates it): a 404 here
            // says so before anything is written.
            report.original_replicas = Some(self.rollout(name).await?.desired);
        }
        // Recorded before the first write, so that a failed apply can still be restored.
        self.applied = Some(report.clone());
        for o in &self.objects {
            self.act
                .apply(&o.resource, &self.namespace, &o.name, &o.applied)
                .await?;
        }
        if let Some((name, replicas)) = self.deployment.clone() {
            self.act.scale(&self.namespace, &name, replicas).await?;
            report.initial_replicas = Some(replicas);
            self.applied = Some(report.clone());
            if !self.act.dry_run() {
                self.settle(&name, settle).await?;
            }
        }
        Ok(report)
    }

    /// Where the Deployment's rollout is.
    async fn rollout(&self, name: &str) -> Result<Rollout, SetupError> {
        let d = Api::<Deployment>::namespaced(self.act.client().clone(), &self.namespace)
            .get(name)
            .await
            .map_err(|source| SetupError::Read {
                what: format!("deployment {}/{name}", self.namespace),
                source: Box::new(source),
            })?;
        let status = d.status.unwrap_or_default();
        Ok(Rollout {
            desired: d.spec.replicas.unwrap_or(1),
            ready: status.ready_replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            total: status.replicas.unwrap_or(0),
            seen: status.observed_generation >= d.metadata.generation,
        })
    }

    async fn settle(&self, name: &str, s: Settle) -> Result<(), SetupError> {
        let start = Instant::now();
        let mut since: Option<Instant> = None;
        loop {
            let r = self.rollout(name).await?;
            let now = Instant::now();
            since = if r.done() { since.or(Some(now)) } else { None };
            if since.is_some_and(|t| now - t >= s.settle) {
                tracing::info!(deployment = name, replicas = r.ready, "setup settled");
                return Ok(());
            }
            if now - start >= s.timeout {
                return Err(SetupError::NotReady {
                    namespace: self.namespace.clone(),
                    name: name.to_string(),
                    ready: r.ready,
                    updated: r.updated,
                    stale: if r.seen {
                        ""
                    } else {
                        " (its controller has not seen the latest spec)"
                    },
                    desired: r.desired,
                    settle: s.settle,
                    timeout: s.timeout,
                });
            }
            tokio::time::sleep(s.poll).await;
        }
    }

    /// Puts the originals back: each object that existed is applied again as it was (the
    /// Deployment's replicas through its scale subresource), each the setup created is
    /// deleted. Goes on past a failure; the error names every one. Nothing to do if
    /// [`apply`](Setup::apply) never got to write.
    pub async fn restore(self) -> Result<(), SetupError> {
        let Some(applied) = &self.applied else {
            return Ok(());
        };
        let mut failed = Vec::new();
        for o in self.objects.iter().rev() {
            let done = match &o.original {
                None => match self.act.delete(&o.resource, &self.namespace, &o.name).await {
                    Err(e) if e.code() == Some(404) => Ok(()),
                    r => r,
                },
                Some(original) => {
                    let body = if o.resource.kind == "Deployment" {
                        without_replicas(original.clone())
                    } else {
                        original.clone()
                    };
                    self.act
                        .apply(&o.resource, &self.namespace, &o.name, &body)
                        .await
                }
            };
            if let Err(e) = done {
                failed.push(e.to_string());
            }
        }
        if let (Some((name, _)), Some(replicas)) = (&self.deployment, applied.original_replicas)
            && let Err(e) = self.act.scale(&self.namespace, name, replicas).await
        {
            failed.push(e.to_string());
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(SetupError::Restore(failed))
        }
    }
}

/// Where a Deployment's rollout is, as `kubectl rollout status` judges it.
#[derive(Debug, Clone, Copy)]
struct Rollout {
    desired: i32,
    ready: i32,
    /// Replicas of the current template.
    updated: i32,
    /// Replicas of any template (old ones still terminating or serving count).
    total: i32,
    /// Its controller has seen the latest spec (`status.observedGeneration` is the
    /// object's `metadata.generation`).
    seen: bool,
}

impl Rollout {
    /// Done: the latest spec seen, every replica of the current template, none of an old
    /// one, all ready. Ready == desired alone passes early on a real cluster, while the old
    /// template's pods still serve.
    fn done(&self) -> bool {
        self.seen
            && self.updated == self.desired
            && self.total == self.desired
            && self.ready == self.desired
    }
}
