//! The observer's memory: the objects folded from the watchers' events, the nodes' bills, the
//! cold starts, the watch errors and the markers. Sans-IO: every call takes `now`, so tests
//! and the watch tasks drive it alike.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::watcher;
use live::Observed;
use scalebench_core::scenario::CapacityType;

use crate::labels::{INSTANCE_TYPE_LABEL, capacity_of, pool_of};
use crate::pod;
use crate::state::{NodeState, PodState, State, WatchError};
use kube_objects::GPU_RESOURCE;
use scalebench_core::kubernetes::Target;
use scalebench_core::run::{ColdStartSample, PoolRun};

/// One watched resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    Deployment,
    Hpa,
    Pods,
    Nodes,
}

impl Feed {
    const ALL: [Feed; 4] = [Feed::Deployment, Feed::Hpa, Feed::Pods, Feed::Nodes];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Feed::Deployment => "deployment",
            Feed::Hpa => "hpa",
            Feed::Pods => "pods",
            Feed::Nodes => "nodes",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How one watcher is doing.
#[derive(Debug, Default)]
struct FeedState {
    /// Its first list is complete.
    synced: bool,
    /// Lists after the first (restarts after a 410 or a lost resourceVersion).
    relists: u32,
    /// The names seen by the list under way.
    listing: Option<BTreeSet<String>>,
    /// The first error since its last event.
    failing_since: Option<Timestamp>,
}

/// A node's time on the bill.
#[derive(Debug, Clone)]
struct Bill {
    node: String,
    pool: String,
    gpus: u32,
    instance_type: Option<String>,
    capacity_type: CapacityType,
    start: Timestamp,
    end: Option<Timestamp>,
}

#[derive(Debug)]
struct NodeEntry {
    state: NodeState,
    first_seen: Timestamp,
    /// Its allocatable `nvidia.com/gpu`.
    gpus: u32,
}

/// Ready replicas integrated over time (for a per-replica price).
#[derive(Debug)]
struct ReplicaClock {
    ready: u32,
    since: Timestamp,
    seconds: f64,
    /// The most ready at once.
    max: u32,
}

impl ReplicaClock {
    fn seconds_at(&self, now: Timestamp) -> f64 {
        self.seconds + f64::from(self.ready) * secs(self.since, now)
    }

    fn set(&mut self, ready: u32, now: Timestamp) {
        self.seconds = self.seconds_at(now);
        self.since = self.since.max(now);
        self.ready = ready;
        self.max = self.max.max(ready);
    }
}

fn secs(from: Timestamp, to: Timestamp) -> f64 {
    ((to.as_nanosecond() - from.as_nanosecond()) as f64 / 1e9).max(0.0)
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// Everything the observer knows.
#[derive(Debug)]
pub(crate) struct Tracker {
    target: Target,
    run_start: Timestamp,
    feeds: [FeedState; 4],
    deployment: Option<Deployment>,
    hpa: Option<HorizontalPodAutoscaler>,
    pods: BTreeMap<String, Pod>,
    nodes: BTreeMap<String, NodeEntry>,
    /// Nodes that hosted a selected pod during the run.
    hosts: BTreeSet<String>,
    bills: Vec<Bill>,
    open_bills: BTreeMap<String, usize>,
    replicas: ReplicaClock,
    /// uids of the selected pods created during the run.
    created: BTreeSet<String>,
    /// uid -> its cold start, once ready.
    cold: BTreeMap<String, ColdStartSample>,
    cold_order: Vec<ColdStartSample>,
    evicted: BTreeSet<String>,
    errors: Vec<WatchError>,
    /// The longest stretch a watcher was behind and recovered from, in seconds.
    longest_stale: f64,
    markers: Vec<String>,
    warned: BTreeSet<(String, &'static str)>,
}

impl Tracker {
    pub(crate) fn new(target: Target, run_start: Timestamp) -> Tracker {
        Tracker {
            target,
            run_start,
            feeds: Default::default(),
            deployment: None,
            hpa: None,
            pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            hosts: BTreeSet::new(),
            bills: Vec::new(),
            open_bills: BTreeMap::new(),
            replicas: ReplicaClock {
                ready: 0,
                since: run_start,
                seconds: 0.0,
                max: 0,
            },
            created: BTreeSet::new(),
            cold: BTreeMap::new(),
            cold_order: Vec::new(),
            evicted: BTreeSet::new(),
            errors: Vec::new(),
            longest_stale: 0.0,
            markers: Vec::new(),
            warned: BTreeSet::new(),
        }
    }

    fn feed(&mut self, feed: Feed) -> &mut FeedState {
        &mut self.feeds[feed.index()]
    }

    fn active(&self, feed: Feed) -> bool {
        feed != Feed::Hpa || self.target.hpa_name().is_some()
    }

    /// Every watcher has completed its first list.
    pub(crate) fn synced(&self) -> bool {
        Feed::ALL
            .iter()
            .all(|&f| !self.active(f) || self.feeds[f.index()].synced)
    }

    fn mark(&mut self, what: &str, now: Timestamp) {
        let ns = u64::try_from(now.as_nanosecond() - self.run_start.as_nanosecond()).unwrap_or(0);
        let at = scalebench_core::Duration::from_millis(ns / 1_000_000);
        self.markers.push(format!("{what}@{at}"));
    }

    /// Markers since the last call.
    pub(crate) fn take_markers(&mut self) -> Vec<String> {
        std::mem::take(&mut self.markers)
    }

    /// A watcher yielded an event: it is healthy again (the stretch it was behind counts
    /// towards [`State::longest_stale`]).
    pub(crate) fn ok(&mut self, feed: Feed, now: Timestamp) {
        if let Some(since) = self.feed(feed).failing_since.take() {
            self.longest_stale = self.longest_stale.max(secs(since, now));
        }
    }

    /// A watcher yielded an error: recorded, marked, and the state kept.
    pub(crate) fn error(&mut self, feed: Feed, err: &watcher::Error, now: Timestamp) {
        let kind = match err {
            watcher::Error::InitialListFailed(_) => "initial-list-failed".to_string(),
            watcher::Error::WatchStartFailed(_) => "watch-start-failed".to_string(),
            watcher::Error::WatchError(s) => format!("watch-error-{}", s.code),
            watcher::Error::WatchFailed(_) => "watch-failed".to_string(),
            watcher::Error::NoResourceVersion => "no-resource-version".to_string(),
        };
        tracing::warn!(resource = feed.name(), kind = %kind, error = %err, "watch error; the watcher retries");
        self.errors.push(WatchError {
            resource: feed.name().to_string(),
            kind,
            message: err.to_string(),
            at: now,
        });
        self.feed(feed).failing_since.get_or_insert(now);
        self.mark(&format!("watch-error:{}", feed.name()), now);
    }

    fn start_list(&mut self, feed: Feed, now: Timestamp) {
        let f = self.feed(feed);
        f.listing = Some(BTreeSet::new());
        if f.synced {
            f.relists += 1;
            self.mark(&format!("relist:{}", feed.name()), now);
        }
    }

    fn listed(&mut self, feed: Feed, name: String) {
        if let Some(l) = self.feed(feed).listing.as_mut() {
            l.insert(name);
        }
    }

    /// Ends a list: the names it did not hold (objects gone while no watch ran).
    fn end_list(&mut self, feed: Feed, known: impl Iterator<Item = String>) -> Vec<String> {
        let f = self.feed(feed);
        f.synced = true;
        let seen = f.listing.take().unwrap_or_default();
        known.filter(|n| !seen.contains(n)).collect()
    }

    pub(crate) fn on_deployment(&mut self, event: watcher::Event<Deployment>, now: Timestamp) {
        match event {
            watcher::Event::Init => self.start_list(Feed::Deployment, now),
            watcher::Event::InitApply(d) | watcher::Event::Apply(d) => {
                self.listed(Feed::Deployment, name_of(&d.metadata));
                self.set_deployment(Some(d), now);
            }
            watcher::Event::Delete(_) => self.set_deployment(None, now),
            watcher::Event::InitDone => {
                let known = self.deployment.iter().map(|d| name_of(&d.metadata));
                let known: Vec<_> = known.collect();
                if !self
                    .end_list(Feed::Deployment, known.into_iter())
                    .is_empty()
                {
                    self.set_deployment(None, now);
                }
            }
        }
    }

    fn set_deployment(&mut self, d: Option<Deployment>, now: Timestamp) {
        let ready = d
            .as_ref()
            .and_then(|d| d.status.as_ref()?.ready_replicas)
            .unwrap_or(0);
        self.replicas.set(u32::try_from(ready).unwrap_or(0), now);
        self.deployment = d;
    }

    pub(crate) fn on_hpa(
        &mut self,
        event: watcher::Event<HorizontalPodAutoscaler>,
        now: Timestamp,
    ) {
        match event {
            watcher::Event::Init => self.start_list(Feed::Hpa, now),
            watcher::Event::InitApply(h) | watcher::Event::Apply(h) => {
                self.listed(Feed::Hpa, name_of(&h.metadata));
                self.hpa = Some(h);
            }
            watcher::Event::Delete(_) => self.hpa = None,
            watcher::Event::InitDone => {
                let known: Vec<_> = self.hpa.iter().map(|h| name_of(&h.metadata)).collect();
                if !self.end_list(Feed::Hpa, known.into_iter()).is_empty() {
                    self.hpa = None;
                }
            }
        }
    }

    pub(crate) fn on_pod(&mut self, event: watcher::Event<Pod>, now: Timestamp) {
        match event {
            watcher::Event::Init => self.start_list(Feed::Pods, now),
            watcher::Event::InitApply(p) | watcher::Event::Apply(p) => {
                self.listed(Feed::Pods, name_of(&p.metadata));
                self.put_pod(p, now);
            }
            watcher::Event::Delete(p) => self.remove_pod(&name_of(&p.metadata), Some(p), now),
            watcher::Event::InitDone => {
                let known: Vec<_> = self.pods.keys().cloned().collect();
                for gone in self.end_list(Feed::Pods, known.into_iter()) {
                    self.remove_pod(&gone, None, now);
                }
            }
        }
    }

    fn put_pod(&mut self, p: Pod, now: Timestamp) {
        let uid = p.metadata.uid.clone().unwrap_or_default();
        if let Some(node) = pod::node(&p)
            && !pod::finished(&p)
            && self.hosts.insert(node.to_string())
            && self.nodes.contains_key(node)
        {
            self.open_bill(node.to_string());
        }
        // Created during the run: creationTimestamp has whole seconds, so the run's start is
        // taken down to its second.
        let run_second =
            Timestamp::from_second(self.run_start.as_second()).unwrap_or(self.run_start);
        if pod::created(&p).is_some_and(|c| c >= run_second) && !uid.is_empty() {
            self.created.insert(uid.clone());
            if !self.cold.contains_key(&uid)
                && let Some(c) = pod::cold_start(&p, now)
            {
                self.cold.insert(uid.clone(), c);
                self.cold_order.push(c);
            }
        }
        if pod::evicted(&p) && self.evicted.insert(uid) {
            self.mark("pod-eviction", now);
        }
        self.pods.insert(name_of(&p.metadata), p);
    }

    fn remove_pod(&mut self, name: &str, last: Option<Pod>, now: Timestamp) {
        let known = self.pods.remove(name);
        let Some(p) = last.or(known) else { return };
        let uid = p.metadata.uid.clone().unwrap_or_default();
        if self.evicted.contains(&uid) {
            return;
        }
        if pod::evicted(&p) {
            self.evicted.insert(uid);
            self.mark("pod-eviction", now);
        } else {
            self.mark("pod-deleted", now);
        }
    }

    pub(crate) fn on_node(&mut self, event: watcher::Event<Node>, now: Timestamp) {
        match event {
            watcher::Event::Init => self.start_list(Feed::Nodes, now),
            watcher::Event::InitApply(n) | watcher::Event::Apply(n) => {
                self.listed(Feed::Nodes, name_of(&n.metadata));
                self.put_node(&n, now);
            }
            watcher::Event::Delete(n) => self.remove_node(&name_of(&n.metadata), now),
            watcher::Event::InitDone => {
                let known: Vec<_> = self.nodes.keys().cloned().collect();
                for gone in self.end_list(Feed::Nodes, known.into_iter()) {
                    self.remove_node(&gone, now);
                }
            }
        }
    }

    fn put_node(&mut self, n: &Node, now: Timestamp) {
        let name = name_of(&n.metadata);
        let empty = BTreeMap::new();
        let labels = n.metadata.labels.as_ref().unwrap_or(&empty);
        let spec = n.spec.as_ref();
        let state = NodeState {
            name: name.clone(),
            pool: pool_of(labels, self.target.pool_label.as_deref()),
            capacity_type: capacity_of(labels, self.target.capacity_label.as_deref()),
            instance_type: labels.get(INSTANCE_TYPE_LABEL).cloned(),
            created: n.metadata.creation_timestamp.as_ref().map(|t| t.0),
            cordoned: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            taints: spec
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(|t| match &t.value {
                    Some(v) => format!("{}={}:{}", t.key, v, t.effect),
                    None => format!("{}:{}", t.key, t.effect),
                })
                .collect(),
            hosts_selected: 0,
        };
        let first_seen = self.nodes.get(&name).map_or(now, |e| e.first_seen);
        let gpus = n
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref()?.get(GPU_RESOURCE))
            .and_then(|q| q.0.trim().parse::<u32>().ok())
            .unwrap_or(0);
        self.nodes.insert(
            name.clone(),
            NodeEntry {
                state,
                first_seen,
                gpus,
            },
        );
        if self.target.node_selector.is_some() || self.hosts.contains(&name) {
            self.open_bill(name);
        }
    }

    fn remove_node(&mut self, name: &str, now: Timestamp) {
        self.nodes.remove(name);
        if let Some(i) = self.open_bills.remove(name)
            && let Some(b) = self.bills.get_mut(i)
        {
            b.end = Some(now.max(b.start));
        }
    }

    /// Puts a known node on the bill (once while it lives): from its creation if that is
    /// later than the run's start, else from when the observer first saw it.
    fn open_bill(&mut self, name: String) {
        if self.open_bills.contains_key(&name) {
            return;
        }
        let Some(e) = self.nodes.get(&name) else {
            return;
        };
        let start = match e.state.created {
            Some(c) if c > self.run_start => c,
            _ => e.first_seen,
        };
        self.bills.push(Bill {
            node: name.clone(),
            pool: e.state.pool.clone(),
            gpus: e.gpus,
            instance_type: e.state.instance_type.clone(),
            capacity_type: e.state.capacity_type,
            start,
            end: None,
        });
        self.open_bills.insert(name, self.bills.len() - 1);
    }

    /// The cost so far, or `None` when a billed node has no price (warned once per instance
    /// type and capacity type) or nothing is priced at all.
    fn cost(&mut self, now: Timestamp) -> Option<f64> {
        self.pools(now)
            .map(|pools| pools.values().map(|p| p.usd).sum())
    }

    /// The bill so far by pool (a pool `replicas` for the per-replica price), as the
    /// simulator's: node-seconds, cost, GPU-seconds and the most nodes at once; `None` when a
    /// billed node has no price (warned once per instance type and capacity type) or nothing
    /// is priced at all.
    pub(crate) fn pools(&mut self, now: Timestamp) -> Option<BTreeMap<String, PoolRun>> {
        let per_replica = self.target.per_replica_usd_per_hour;
        if self.target.prices.is_empty() && per_replica.is_none() {
            if self.warned.insert((String::new(), "")) {
                tracing::warn!(
                    "the cluster target has no prices and no per_replica_usd_per_hour: cost is unknown"
                );
            }
            return None;
        }
        let mut out = BTreeMap::new();
        if let Some(p) = per_replica {
            let seconds = self.replicas.seconds_at(now);
            out.insert(
                "replicas".to_string(),
                PoolRun {
                    capacity_type: CapacityType::OnDemand.as_str().to_string(),
                    unit_seconds: seconds,
                    usd: p * seconds / 3600.0,
                    gpu_seconds: 0.0,
                    max_units: self.replicas.max,
                },
            );
        }
        if self.target.prices.is_empty() {
            return Some(out);
        }
        let mut unknown = false;
        for b in &self.bills {
            let price = b
                .instance_type
                .as_deref()
                .and_then(|it| self.target.price(it, b.capacity_type));
            let Some(price) = price else {
                unknown = true;
                let it = b.instance_type.clone().unwrap_or_default();
                if self.warned.insert((it.clone(), b.capacity_type.as_str())) {
                    tracing::warn!(
                        node = %b.node,
                        instance_type = if it.is_empty() { "(no node.kubernetes.io/instance-type label)" } else { it.as_str() },
                        capacity_type = b.capacity_type.as_str(),
                        "no price for this node in the cluster target's prices: cost is unknown (null)"
                    );
                }
                continue;
            };
            let seconds = secs(b.start, b.end.unwrap_or(now));
            let pool = out.entry(b.pool.clone()).or_insert_with(|| PoolRun {
                capacity_type: b.capacity_type.as_str().to_string(),
                unit_seconds: 0.0,
                usd: 0.0,
                gpu_seconds: 0.0,
                max_units: 0,
            });
            pool.unit_seconds += seconds;
            pool.usd += price * seconds / 3600.0;
            pool.gpu_seconds += f64::from(b.gpus) * seconds;
        }
        if unknown {
            return None;
        }
        for (name, pool) in &mut out {
            if name != "replicas" || per_replica.is_none() {
                pool.max_units = self.most_nodes_at_once(name, now);
            }
        }
        Some(out)
    }

    /// The most nodes of `pool` on the bill at one instant.
    fn most_nodes_at_once(&self, pool: &str, now: Timestamp) -> u32 {
        // +1 at each start, -1 at each end; ends sort before starts at the same instant.
        let mut edges: Vec<(Timestamp, i32)> = self
            .bills
            .iter()
            .filter(|b| b.pool == pool)
            .flat_map(|b| [(b.start, 1), (b.end.unwrap_or(now).max(b.start), -1)])
            .collect();
        edges.sort();
        let (mut now_on, mut most) = (0i32, 0i32);
        for (_, d) in edges {
            now_on += d;
            most = most.max(now_on);
        }
        u32::try_from(most).unwrap_or(0)
    }

    /// Nodes counted now: those the node selector selects, else those hosting a selected pod
    /// that has not finished.
    fn counted_nodes(&self) -> BTreeMap<&str, u32> {
        let mut counted: BTreeMap<&str, u32> = BTreeMap::new();
        if self.target.node_selector.is_some() {
            for name in self.nodes.keys() {
                counted.insert(name, 0);
            }
        }
        for p in self.pods.values().filter(|p| !pod::finished(p)) {
            if let Some(n) = pod::node(p)
                && (self.target.node_selector.is_none() || self.nodes.contains_key(n))
            {
                *counted.entry(n).or_default() += 1;
            }
        }
        counted
    }

    /// What `live`'s collector asks every window; `None` until every watcher has listed once.
    pub(crate) fn observed(&mut self, now: Timestamp) -> Option<Observed> {
        if !self.synced() {
            return None;
        }
        let mut nodes = BTreeMap::new();
        for name in self.counted_nodes().keys() {
            if let Some(e) = self.nodes.get(*name) {
                *nodes.entry(e.state.pool.clone()).or_insert(0u32) += 1;
            }
        }
        Some(Observed {
            replicas_desired: self.replicas_desired(),
            replicas_ready: self.replicas_ready(),
            pods_pending: Some(self.pods_pending()),
            nodes,
            gpus_allocated: Some(self.gpus()),
            gpu_util: None,
            queue_depth: None,
            cost_usd: self.cost(now),
        })
    }

    fn replicas_desired(&self) -> Option<u32> {
        let n = if self.target.hpa_name().is_some() {
            self.hpa.as_ref()?.status.as_ref()?.desired_replicas
        } else {
            self.deployment.as_ref()?.spec.replicas.unwrap_or(1)
        };
        u32::try_from(n).ok()
    }

    fn replicas_ready(&self) -> Option<u32> {
        let d = self.deployment.as_ref()?;
        let n = d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        u32::try_from(n).ok()
    }

    fn is_pending(p: &Pod) -> bool {
        !pod::ready(p) && !pod::terminating(p) && !pod::finished(p)
    }

    fn pods_pending(&self) -> u32 {
        let n = self.pods.values().filter(|p| Self::is_pending(p)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn gpus(&self) -> u32 {
        self.pods
            .values()
            .filter(|p| pod::node(p).is_some() && !pod::finished(p))
            .map(pod::gpus)
            .sum()
    }

    /// How long the state may have been behind: since the first error of a watcher that has
    /// not recovered.
    fn stale(&self, now: Timestamp) -> Option<std::time::Duration> {
        self.feeds
            .iter()
            .filter_map(|f| f.failing_since)
            .min()
            .map(|since| std::time::Duration::from_secs_f64(secs(since, now)))
    }

    /// The richer snapshot.
    pub(crate) fn state(&mut self, now: Timestamp) -> State {
        let counted = self.counted_nodes();
        let mut nodes_by_pool: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
        let mut nodes = Vec::new();
        for (name, e) in &self.nodes {
            let mut s = e.state.clone();
            s.hosts_selected = counted.get(name.as_str()).copied().unwrap_or(0);
            if counted.contains_key(name.as_str()) {
                *nodes_by_pool
                    .entry(s.pool.clone())
                    .or_default()
                    .entry(s.capacity_type.as_str().to_string())
                    .or_default() += 1;
            }
            nodes.push(s);
        }
        let mut pods_by_phase: BTreeMap<String, u32> = BTreeMap::new();
        let mut pending_reasons: BTreeMap<String, u32> = BTreeMap::new();
        let mut pods = Vec::new();
        for p in self.pods.values() {
            let pending = Self::is_pending(p);
            let reason = pending.then(|| pod::pending_reason(p));
            *pods_by_phase.entry(pod::phase(p).to_string()).or_default() += 1;
            if let Some(r) = &reason {
                *pending_reasons.entry(r.clone()).or_default() += 1;
            }
            pods.push(PodState {
                name: name_of(&p.metadata),
                node: pod::node(p).map(str::to_string),
                phase: pod::phase(p).to_string(),
                ready: pod::ready(p),
                terminating: pod::terminating(p),
                pending_reason: reason,
                gpus: pod::gpus(p),
            });
        }
        let unfinished = self
            .created
            .iter()
            .filter(|uid| !self.cold.contains_key(*uid))
            .count();
        State {
            run_start: self.run_start,
            at: now,
            synced: self.synced(),
            stale: self.stale(now),
            replicas_desired: self.replicas_desired(),
            replicas_ready: self.replicas_ready(),
            deployment_replicas: self.deployment.as_ref().and_then(|d| d.spec.replicas),
            hpa_desired: self
                .hpa
                .as_ref()
                .and_then(|h| Some(h.status.as_ref()?.desired_replicas)),
            pods_pending: self.pods_pending(),
            pods_by_phase,
            pending_reasons,
            terminating: pods
                .iter()
                .filter(|p| p.terminating)
                .map(|p| p.name.clone())
                .collect(),
            pods,
            nodes_by_pool,
            cordoned: nodes
                .iter()
                .filter(|n| n.cordoned)
                .map(|n| n.name.clone())
                .collect(),
            tainted: nodes
                .iter()
                .filter(|n| !n.taints.is_empty())
                .map(|n| n.name.clone())
                .collect(),
            nodes,
            gpus_allocated: self.gpus(),
            cost_usd: self.cost(now),
            pools: self.pools(now),
            max_ready: self.replicas.max,
            cold_starts: self.cold_order.clone(),
            unfinished_cold_starts: u32::try_from(unfinished).unwrap_or(u32::MAX),
            relists: self.feeds.iter().map(|f| f.relists).sum(),
            longest_stale: {
                let now_stale = self.stale(now).map_or(0.0, |d| d.as_secs_f64());
                let longest = self.longest_stale.max(now_stale);
                (longest > 0.0).then(|| std::time::Duration::from_secs_f64(longest))
            },
            errors: self.errors.clone(),
        }
    }
}
