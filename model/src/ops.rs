//! Operations on one pod or node by its id, as a client of a Kubernetes API asks for them (the
//! testbed carries out what kubectl and the cluster driver ask of its mirrored API): evict or
//! delete a pod, cordon or uncordon a node, delete a node, scale the Deployment. Each reuses what the
//! model's own faults and control loop do, so a run's accounting stays one.

use scalebench_core::fault::{Count, Fault};

use crate::pods::PodPhase;
use crate::{Host, Model, Request};

/// Why the model refused an operation by id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No pod has that id.
    #[error("pod {0} does not exist")]
    NoSuchPod(u32),
    /// The pod was deleted already.
    #[error("pod {0} is gone")]
    PodGone(u32),
    /// The pod is terminating already.
    #[error("pod {0} is already terminating")]
    PodTerminating(u32),
    /// The setup bills per replica: there are no nodes.
    #[error("this setup bills per replica and has no nodes")]
    NoNodes,
    /// No node has that id.
    #[error("node {0} does not exist")]
    NoSuchNode(u32),
    /// The node was removed already.
    #[error("node {0} is gone")]
    NodeGone(u32),
    /// The setup's policy places its replicas per pool, so one count cannot say where they go.
    #[error(
        "this setup's policy places its replicas per pool: it runs {current} and cannot be scaled to {asked} as one count"
    )]
    PlacedPerPool {
        /// The replicas it runs (warm pool included).
        current: u32,
        /// The replicas asked for.
        asked: u32,
    },
}

impl<W: Request> Model<W> {
    /// Evicts pod `pod` now, as an eviction through the API does: a graceful deletion (a ready
    /// pod drains and is killed at its grace period's end; one that is not ready goes at once)
    /// and the ReplicaSet replaces it at once, cold. It is recorded as a `pod-eviction` fault
    /// (one record per call, with its marker), which counts what it costs as a planned
    /// eviction's record does. No disruption budget is checked here: the API server checks
    /// PodDisruptionBudgets before it asks. Refused for a pod that does not exist, is gone or
    /// is already terminating.
    pub fn evict_pod(
        &mut self,
        now: u64,
        pod: u32,
        host: &mut impl Host<W>,
    ) -> Result<(), Refused> {
        self.now = now;
        self.deletable(pod)?;
        let fault = Fault::PodEviction {
            at: scalebench_core::Duration::from_nanos(now),
            pods: Count::N(1),
            max_unavailable: None,
        };
        let index = self.record_fault(fault.kind(), fault.target());
        self.evict(vec![pod], index, host);
        tracing::debug!(pod, "pod evicted");
        Ok(())
    }

    /// Deletes pod `pod` now, as `kubectl delete pod` does: the same graceful deletion as
    /// [`Model::evict_pod`] and a replacement at once, but no eviction: no fault record, no
    /// marker (a pod a scale-down removes is deleted alike). Refused as `evict_pod` is.
    pub fn remove_pod(
        &mut self,
        now: u64,
        pod: u32,
        host: &mut impl Host<W>,
    ) -> Result<(), Refused> {
        self.now = now;
        self.deletable(pod)?;
        self.delete_pod(pod, host);
        self.reconcile(host);
        Ok(())
    }

    /// Cordons (`cordoned`) or uncordons node `node` now, as `kubectl cordon` and `uncordon`
    /// do: while cordoned nothing new is bound to it; its pods stay and serve, count toward
    /// their ReplicaSet as before, and the pool is not marked disrupted (a cordon takes no
    /// capacity away). Uncordoning binds pods that wait for room at once. It undoes only a
    /// client's cordon: a node the model cordoned itself (under an interruption notice, being
    /// lost) stays cordoned, since it is about to go.
    pub fn set_cordoned(
        &mut self,
        now: u64,
        node: u32,
        cordoned: bool,
        host: &mut impl Host<W>,
    ) -> Result<(), Refused> {
        self.now = now;
        self.existing_node(node)?;
        if let Some(c) = self.cluster.as_mut() {
            c.set_unschedulable(node, cordoned);
        }
        if !cordoned {
            self.bind_waiting(host);
        }
        Ok(())
    }

    /// Deletes node `node` now, as deleting the Node object does: its pods die with what they
    /// serve, it stops being paid for, its pool counts as disrupted, and the ReplicaSet
    /// replaces the pods (the cluster autoscaler provisions again if they find no room). No
    /// fault record is made: the plan had none, and the report's fault kinds are the plan's
    /// (a client that deletes a node as part of a fault records that fault itself); the
    /// requests it kills are counted as any killed request is. Refused for a node that does
    /// not exist or is gone.
    pub fn remove_node(
        &mut self,
        now: u64,
        node: u32,
        host: &mut impl Host<W>,
    ) -> Result<(), Refused> {
        self.now = now;
        self.existing_node(node)?;
        self.lose_node(node, None, host);
        tracing::debug!(node, "node removed");
        Ok(())
    }

    /// Scales the Deployment to `replicas` now, as `kubectl scale` does: `replicas` counts the
    /// warm pool (as the Deployment's `spec.replicas` and [`crate::ServiceState`]'s
    /// `replicas_desired` do), so the policy's desired count becomes `replicas` less the warm
    /// pool (at least 0), and the pods are reconciled to it at once. The setup's policy
    /// decides again at its next sync, from this count, as a real HPA overrides a manual
    /// scale (a `fixed` setup goes back to its count then). A policy that places its
    /// replicas per pool (cost-aware) accepts only the count it runs.
    pub fn scale_to(
        &mut self,
        now: u64,
        replicas: u32,
        host: &mut impl Host<W>,
    ) -> Result<(), Refused> {
        self.now = now;
        let desired = replicas.saturating_sub(self.settings.warm_pool);
        if self.placement.is_some() {
            if desired == self.desired {
                return Ok(());
            }
            return Err(Refused::PlacedPerPool {
                current: self.desired + self.settings.warm_pool,
                asked: replicas,
            });
        }
        self.desired = desired;
        self.reconcile(host);
        tracing::debug!(replicas, "scaled");
        Ok(())
    }

    /// Checks that `pod` exists and is neither terminating nor gone.
    fn deletable(&self, pod: u32) -> Result<(), Refused> {
        match self.pods.get(pod as usize).map(|p| p.state) {
            None => Err(Refused::NoSuchPod(pod)),
            Some(PodPhase::Gone) => Err(Refused::PodGone(pod)),
            Some(PodPhase::Terminating) => Err(Refused::PodTerminating(pod)),
            Some(_) => Ok(()),
        }
    }

    /// Checks that `node` exists and is not gone.
    fn existing_node(&self, node: u32) -> Result<(), Refused> {
        let c = self.cluster.as_ref().ok_or(Refused::NoNodes)?;
        match c.is_gone(node) {
            None => Err(Refused::NoSuchNode(node)),
            Some(true) => Err(Refused::NodeGone(node)),
            Some(false) => Ok(()),
        }
    }
}
