//! A read-only view of the model's pods and nodes, as a Kubernetes API would list them: for a
//! host that mirrors the model elsewhere (the testbed into a Kubernetes API), and for tests.
//! Each pod carries the instants it entered its phases, which are also what the cold-start
//! breakdown of the run is made of ([`Model::cold_starts`]).

use scalebench_core::run::{ColdStartSample, ColdStarts};

use crate::pods::PodPhase;
use crate::{Model, Request};

/// One pod as the model holds it. Instants are ns of scenario time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodView<'a> {
    /// Its id (the same as in [`crate::SlotId::pod`] and [`crate::Timer::PodPhase`]).
    pub id: u32,
    /// Where it is in its life; [`PodPhase::Gone`] once deleted.
    pub phase: PodPhase,
    /// The node it is bound to; `None` while pending, once gone, and under replica billing
    /// (no nodes).
    pub node: Option<u32>,
    /// The pool of its node, when it is bound to one.
    pub pool: Option<&'a str>,
    /// The pool it is pinned to (its node affinity), for a policy that places its replicas;
    /// `None` when it may go anywhere.
    pub pinned: Option<&'a str>,
    /// When it was created (entered Pending).
    pub created_ns: u64,
    /// When it was bound to a node (entered ContainerCreating); under replica billing, when
    /// it was created.
    pub scheduled_ns: Option<u64>,
    /// When its container started (entered Running, not ready: the model loads).
    pub started_ns: Option<u64>,
    /// When it became ready.
    pub ready_ns: Option<u64>,
    /// When it started terminating (or, deleted before it was ready or with its node, when it
    /// went).
    pub deleting_ns: Option<u64>,
    /// It was evicted: by a pod-eviction fault, or through [`Model::evict_pod`].
    pub evicted: bool,
}

/// One node as the model holds it (under node billing; there are none under replica billing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView<'a> {
    /// Its id (the same as in [`crate::Timer::NodeUp`]).
    pub id: u32,
    /// Its pool's name.
    pub pool: &'a str,
    /// Its pool's capacity type: `spot` or `on-demand`.
    pub capacity_type: &'a str,
    /// GPUs it has.
    pub gpus: u32,
    /// It has joined and takes pods (false while it is provisioning).
    pub up: bool,
    /// Cordoned by the model (an interruption notice, a loss under way): nothing new is bound
    /// to it, and it is about to go.
    pub cordoned: bool,
    /// Cordoned by a client ([`Model::set_cordoned`]): nothing new is bound to it until it is
    /// uncordoned.
    pub unschedulable: bool,
    /// Removed (scaled down, reclaimed, lost); it is not paid for any more.
    pub gone: bool,
    /// When it was requested (it provisions from then); 0 for the nodes up at the start.
    pub created_ns: u64,
    /// When it came up (joined the cluster and took pods); `None` while it provisions.
    pub up_ns: Option<u64>,
}

impl<W: Request> Model<W> {
    /// Every pod the model has created, in id order (creation order), deleted ones included
    /// with [`PodPhase::Gone`]; filter on the phase for the pods that exist.
    pub fn pods(&self) -> impl Iterator<Item = PodView<'_>> {
        let pool_name = |i: usize| {
            self.cluster
                .as_ref()
                .and_then(|c| c.pools.get(i))
                .map(|p| p.name.as_str())
        };
        self.pods.iter().enumerate().map(move |(i, p)| PodView {
            id: i as u32,
            phase: p.state,
            node: p.node,
            pool: p
                .node
                .and_then(|n| self.cluster.as_ref().map(|c| c.pool_of(n)))
                .and_then(pool_name),
            pinned: p.group.and_then(|g| pool_name(usize::from(g))),
            created_ns: p.created,
            scheduled_ns: p.scheduled,
            started_ns: p.started,
            ready_ns: p.ready,
            deleting_ns: p.deleting,
            evicted: p.fault.is_some(),
        })
    }

    /// Every node the cluster has requested, in id order, removed ones included (`gone`);
    /// none under replica billing.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.cluster.iter().flat_map(|c| c.views())
    }

    /// The cold starts so far: a sample for each pod created to start cold (not ready at time
    /// zero) that became ready, in creation order, and the count of those that have not (deleted
    /// before, or still starting). Its count equals the `cold_starts` the model counts.
    pub fn cold_starts(&self) -> ColdStarts {
        let mut out = ColdStarts::new();
        let mut unfinished = 0u32;
        for p in self.pods.iter().filter(|p| p.cold) {
            match (p.scheduled, p.started, p.ready) {
                (Some(scheduled), Some(started), Some(ready)) => out.push(
                    ColdStartSample::from_instants(p.created, scheduled, started, ready),
                ),
                _ => unfinished += 1,
            }
        }
        out.add_unfinished(unfinished);
        out
    }
}
