//! The one seam every write of the cluster driver goes through: [`Act`] calls kube, or under
//! `--dry-run` records the call and returns without making it. Either way it keeps the list of
//! [`Call`]s done or that would be done, for the report.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ApiResource, DeleteParams, DynamicObject, EvictParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};

/// The field manager of every server-side apply scalebench makes.
pub const FIELD_MANAGER: &str = "scalebench";

/// One write the driver made, or would have made under `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// When it was made (or recorded).
    pub at: Timestamp,
    /// The HTTP method: `POST`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// The request path, e.g. `/api/v1/namespaces/bench/pods/model-a/eviction`.
    pub path: String,
    /// What the body says, in a few words (`cordon`, `taint scalebench.io/interruption=r1:NoSchedule`).
    pub summary: String,
    /// How it went.
    pub outcome: Outcome,
}

/// How a [`Call`] went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "message")]
pub enum Outcome {
    /// Not made: `--dry-run`.
    DryRun,
    /// The API server accepted it.
    Done,
    /// A 429: a PodDisruptionBudget refused an eviction (the budget's message).
    Refused(String),
    /// A 404: the object was already gone.
    NotFound,
    /// Any other error.
    Failed(String),
}

/// A write the API server refused or that could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path} ({summary}): {source}")]
pub struct ActError {
    /// The HTTP method.
    pub method: &'static str,
    /// The request path.
    pub path: String,
    /// What the call was for.
    pub summary: String,
    /// kube's error.
    #[source]
    pub source: Box<kube::Error>,
}

impl ActError {
    /// The API's status code, if the server answered with one.
    pub fn code(&self) -> Option<u16> {
        match &*self.source {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        }
    }
}

/// How an eviction went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "message")]
pub enum Evicted {
    /// The Eviction was accepted.
    Done,
    /// Not made: `--dry-run`.
    DryRun,
    /// The pod was already gone (404).
    Gone,
    /// A PodDisruptionBudget refused it (429), with the budget's message.
    Refused(String),
}

/// The driver's writes: kube calls, or records of them under `--dry-run`. Cloning shares the
/// list of calls. Reads go to [`Act::client`] directly and are not recorded.
///
/// Give it a client whose own retries are off ([`crate::connect`] makes one): kube's
/// retry layer would otherwise retry a PodDisruptionBudget's 429 for minutes before the
/// fault's own backoff sees it.
#[derive(Clone)]
pub struct Act {
    client: kube::Client,
    dry_run: bool,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Debug for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Act")
            .field("dry_run", &self.dry_run)
            .field("calls", &self.calls().len())
            .finish_non_exhaustive()
    }
}

impl Act {
    /// Writes through `client`; with `dry_run`, writes nothing and records what it would write.
    pub fn new(client: kube::Client, dry_run: bool) -> Act {
        Act {
            client,
            dry_run,
            calls: Arc::default(),
        }
    }

    /// The client, for reads.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Whether writes are only recorded.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Every write made (or recorded) so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, method: &'static str, path: &str, summary: &str, outcome: Outcome) {
        tracing::info!(method, path, summary, ?outcome, "cluster write");
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call {
                at: Timestamp::now(),
                method,
                path: path.to_string(),
                summary: summary.to_string(),
                outcome,
            });
    }

    /// Makes one call (unless dry-run), records it, and maps kube's error to [`ActError`].
    async fn call<T, F>(
        &self,
        method: &'static str,
        path: String,
        summary: String,
        send: F,
    ) -> Result<Option<T>, ActError>
    where
        F: Future<Output = Result<T, kube::Error>>,
    {
        if self.dry_run {
            self.record(method, &path, &summary, Outcome::DryRun);
            return Ok(None);
        }
        match send.await {
            Ok(v) => {
                self.record(method, &path, &summary, Outcome::Done);
                Ok(Some(v))
            }
            Err(source) => {
                let outcome = match &source {
                    kube::Error::Api(s) if s.code == 404 => Outcome::NotFound,
                    kube::Error::Api(s) if s.code == 429 => Outcome::Refused(budget_message(s)),
                    e => Outcome::Failed(e.to_string()),
                };
                self.record(method, &path, &summary, outcome);
                Err(ActError {
                    method,
                    path,
                    summary,
                    source: Box::new(source),
                })
            }
        }
    }

    /// `POST pods/POD/eviction`: the pod goes if its PodDisruptionBudgets allow.
    pub async fn evict(&self, namespace: &str, pod: &str) -> Result<Evicted, ActError> {
        let api = Api::<Pod>::namespaced(self.client.clone(), namespace);
        let path = format!("{}/{pod}/eviction", api.resource_url());
        let params = EvictParams::default();
        let sent = self
            .call("POST", path, "evict".into(), api.evict(pod, &params))
            .await;
        match sent {
            Ok(Some(_)) => Ok(Evicted::Done),
            Ok(None) => Ok(Evicted::DryRun),
            Err(e) => match &*e.source {
                kube::Error::Api(s) if s.code == 404 => Ok(Evicted::Gone),
                kube::Error::Api(s) if s.code == 429 => Ok(Evicted::Refused(budget_message(s))),
                _ => Err(e),
            },
        }
    }

    /// A JSON merge patch (RFC 7386) of a Node: lists such as `spec.taints` are replaced whole,
    /// the same on every API server. Returns the patched Node (`None` under dry-run).
    pub async fn patch_node(
        &self,
        node: &str,
        patch: &Value,
        summary: String,
    ) -> Result<Option<Node>, ActError> {
        let api = Api::<Node>::all(self.client.clone());
        let path = format!("{}/{node}", api.resource_url());
        let params = PatchParams::default();
        self.call(
            "PATCH",
            path,
            summary,
            api.patch(node, &params, &Patch::Merge(patch)),
        )
        .await
    }

    /// Deletes a Node object.
    pub async fn delete_node(&self, node: &str) -> Result<(), ActError> {
        let api = Api::<Node>::all(self.client.clone());
        let path = format!("{}/{node}", api.resource_url());
        let params = DeleteParams::default();
        self.call(
            "DELETE",
            path,
            "delete node".into(),
            api.delete(node, &params),
        )
        .await
        .map(drop)
    }

    /// Server-side apply of `object` (field manager [`FIELD_MANAGER`], force).
    pub async fn apply(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        object: &Value,
    ) -> Result<(), ActError> {
        let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, resource);
        let path = format!("{}/{name}", api.resource_url());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let summary = format!("server-side apply {}", resource.kind);
        self.call(
            "PATCH",
            path,
            summary,
            api.patch(name, &params, &Patch::Apply(object)),
        )
        .await
        .map(drop)
    }

    /// Deletes a namespaced object.
    pub async fn delete(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<(), ActError> {
        let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, resource);
        let path = format!("{}/{name}", api.resource_url());
        let summary = format!("delete {}", resource.kind);
        let params = DeleteParams::default();
        self.call("DELETE", path, summary, api.delete(name, &params))
            .await
            .map(drop)
    }

    /// `PATCH deployments/NAME/scale` to `replicas`.
    pub async fn scale(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: i32,
    ) -> Result<(), ActError> {
        let api = Api::<Deployment>::namespaced(self.client.clone(), namespace);
        let path = format!("{}/{deployment}/scale", api.resource_url());
        let patch = json!({"spec": {"replicas": replicas}});
        let params = PatchParams::default();
        let summary = format!("scale to {replicas}");
        self.call(
            "PATCH",
            path,
            summary,
            api.patch_scale(deployment, &params, &Patch::Merge(&patch)),
        )
        .await
        .map(drop)
    }
}

/// The budget's words from a 429: the causes' messages (`The disruption budget web-pdb needs
/// 2 healthy pods and has 2 currently`), else the Status's message.
fn budget_message(s: &kube::core::Status) -> String {
    let causes: Vec<&str> = s
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if causes.is_empty() {
        s.message.clone()
    } else {
        causes.join("; ")
    }
}
