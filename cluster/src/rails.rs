//! The faults' safety rails: what a fault may touch. RBAC cannot restrict by label, so the
//! driver does: pods only in the allowed namespaces and matching the target's selector (never a
//! DaemonSet's or a static pod), nodes only those hosting such a pod, matching the target's
//! `node_selector`, or of the pool an outage names. Selection goes through the API server's own
//! label and field selectors, so it means what the observer's watches mean.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;

use crate::fault::FaultError;
use crate::labels::pool_of;
use crate::pod;
use scalebench_core::kubernetes::Target;

/// What a fault may touch.
#[derive(Debug, Clone)]
pub(crate) struct Rails {
    /// The namespaces whose pods may be evicted.
    pub namespaces: Vec<String>,
    /// The target: its selector, node selector and pool label.
    pub target: Target,
}

fn read_error(what: String) -> impl FnOnce(kube::Error) -> FaultError {
    move |source| FaultError::Read {
        what,
        source: Box::new(source),
    }
}

fn refused(what: String) -> FaultError {
    tracing::warn!(%what, "fault refused by the rails");
    FaultError::Rails { what }
}

/// Pods a fault must leave alone even when selected: a DaemonSet's (it comes back on the same
/// node at once) and static pods (their mirror cannot be evicted).
fn exempt(p: &Pod) -> bool {
    let daemon = p
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    let mirror = p
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    daemon || mirror || pod::finished(p)
}

fn with_fields(params: ListParams, fields: &str) -> ListParams {
    if fields.is_empty() {
        params
    } else {
        params.fields(fields)
    }
}

impl Rails {
    /// The selected pods of `namespace` further filtered by a field selector.
    async fn selected_in(
        &self,
        client: &kube::Client,
        namespace: &str,
        fields: &str,
    ) -> Result<Vec<Pod>, FaultError> {
        let api = Api::<Pod>::namespaced(client.clone(), namespace);
        let params = with_fields(ListParams::default().labels(&self.target.selector), fields);
        let list = api.list(&params).await.map_err(read_error(format!(
            "pods in {namespace} ({}, {fields})",
            self.target.selector
        )))?;
        Ok(list.items.into_iter().filter(|p| !exempt(p)).collect())
    }

    /// The pod, if the rails allow evicting it; else an error naming why not.
    pub async fn check_pod(
        &self,
        client: &kube::Client,
        namespace: &str,
        name: &str,
    ) -> Result<Pod, FaultError> {
        if !self.namespaces.iter().any(|n| n == namespace) {
            return Err(refused(format!(
                "pod {namespace}/{name}: namespace {namespace:?} is not among the allowed {:?}",
                self.namespaces
            )));
        }
        let found = self
            .selected_in(client, namespace, &format!("metadata.name={name}"))
            .await?;
        if let Some(p) = found.into_iter().next() {
            return Ok(p);
        }
        let exists = Api::<Pod>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(read_error(format!("pod {namespace}/{name}")))?;
        Err(refused(match exists {
            None => format!("pod {namespace}/{name} does not exist"),
            Some(p) if exempt(&p) => format!(
                "pod {namespace}/{name} is a DaemonSet's, a static pod or finished: never evicted"
            ),
            Some(_) => format!(
                "pod {namespace}/{name} does not match the selector {:?}",
                self.target.selector
            ),
        }))
    }

    /// The selected pods, in every allowed namespace, bound to `node`.
    pub async fn selected_on(
        &self,
        client: &kube::Client,
        node: &str,
    ) -> Result<Vec<Pod>, FaultError> {
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(
                self.selected_in(client, ns, &format!("spec.nodeName={node}"))
                    .await?,
            );
        }
        Ok(out)
    }

    /// The selected pods in every allowed namespace.
    pub async fn selected(&self, client: &kube::Client) -> Result<Vec<Pod>, FaultError> {
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(self.selected_in(client, ns, "").await?);
        }
        Ok(out)
    }

    /// The nodes the target's `node_selector` selects (every node without one).
    async fn nodes(&self, client: &kube::Client, fields: &str) -> Result<Vec<Node>, FaultError> {
        let mut params = with_fields(ListParams::default(), fields);
        if let Some(s) = &self.target.node_selector {
            params = params.labels(s);
        }
        let list = Api::<Node>::all(client.clone())
            .list(&params)
            .await
            .map_err(read_error(format!("nodes ({fields})")))?;
        Ok(list.items)
    }

    /// Checks that a spot interruption may strike `node`: it hosts a selected pod, or the
    /// target's `node_selector` selects it.
    pub async fn check_node(&self, client: &kube::Client, node: &str) -> Result<(), FaultError> {
        if !self.selected_on(client, node).await?.is_empty() {
            return Ok(());
        }
        if self.target.node_selector.is_some()
            && !self
                .nodes(client, &format!("metadata.name={node}"))
                .await?
                .is_empty()
        {
            return Ok(());
        }
        Err(refused(format!(
            "node {node} hosts no pod selected by {:?} in {:?}{}",
            self.target.selector,
            self.namespaces,
            match &self.target.node_selector {
                Some(s) => format!(" and is not selected by the node selector {s:?}"),
                None => String::new(),
            }
        )))
    }

    /// The nodes of `pool` (as the observer names pools), among those `node_selector` selects;
    /// an error when there are none.
    pub async fn pool_nodes(
        &self,
        client: &kube::Client,
        pool: &str,
    ) -> Result<Vec<String>, FaultError> {
        let label = self.target.pool_label.as_deref();
        let names: Vec<String> = self
            .nodes(client, "")
            .await?
            .into_iter()
            .filter(|n| {
                pool_of(
                    n.metadata.labels.as_ref().unwrap_or(&Default::default()),
                    label,
                ) == pool
            })
            .filter_map(|n| n.metadata.name)
            .collect();
        if names.is_empty() {
            return Err(refused(format!("pool {pool:?} has no node")));
        }
        Ok(names)
    }
}
