//! The testbed driver of `scalebench run --driver testbed`: for each setup, an in-process
//! testbed on 127.0.0.1 emulating it, the live load engine sending the scenario's arrivals to
//! it over real HTTP (or, with `executor = "users"`, the scenario's closed-loop users through
//! Goose), the scenario's faults injected through the testbed's admin API at their times, and
//! the timeline sampled from its `/metrics`; all `time_scale` times faster than scenario time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use harness::report::FaultEvent;
use harness::run::{PoolRun, SetupRun};
use live::observe::request;
use live::{LoadConfig, Progress, PrometheusObserver, Target};
use workloads::scenario::Billing;
use workloads::{Plan, Setup};

use super::Failure;

/// Runs every setup against its own testbed, one after the other.
pub fn run_setups(
    plan: &Plan,
    setups: &[&Setup],
    time_scale: f64,
    cancel: &AtomicBool,
) -> Result<Vec<SetupRun>, Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the testbed's runtime")
        .map_err(Failure::env)?;
    let mut runs = Vec::new();
    for (i, setup) in setups.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) && !runs.is_empty() {
            let skipped: Vec<&str> = setups[i..].iter().map(|s| s.name.as_str()).collect();
            tracing::warn!(
                "interrupted: setups not run, so not in the report: {}",
                skipped.join(", ")
            );
            break;
        }
        let config = testbed::TestbedConfig::from_plan(plan, setup, time_scale);
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        let bed = rt
            .block_on(testbed::start(config, listen))
            .map_err(Failure::env)?;
        let run = drive(plan, setup, bed.addr(), time_scale, cancel);
        rt.block_on(bed.shutdown());
        runs.push(run?);
    }
    Ok(runs)
}

/// One setup: load, faults and observation against the testbed at `addr`.
fn drive(
    plan: &Plan,
    setup: &Setup,
    addr: SocketAddr,
    time_scale: f64,
    cancel: &AtomicBool,
) -> Result<SetupRun, Failure> {
    let url = format!("http://{addr}/predict");
    let target = Target::new(
        &url,
        None,
        &[],
        // The testbed serves each request class with its own service time and priority; it
        // reads the class from the body. A class's own `request` may replace it.
        Some(bytes::Bytes::from_static(br#"{"class": "{{class}}"}"#)),
        |_| None,
    )
    .map_err(Failure::env)?;
    let mut config = LoadConfig::new(target);
    config.time_scale = time_scale;
    // The testbed serves POST /predict only: a class's path and method are for real
    // endpoints; its headers and body still go.
    let mut on_testbed = plan.clone();
    for c in &mut on_testbed.traffic.classes {
        if let Some(r) = &mut c.request {
            r.path = None;
            r.method = None;
        }
    }
    let observer = PrometheusObserver::new(&format!("http://{addr}/metrics"))
        .context("cannot observe the testbed")
        .map_err(Failure::env)?;
    let progress = Progress::default();
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let mut run = std::thread::scope(|s| {
        s.spawn(|| inject_faults(plan, addr, time_scale, start, &observer, &done, cancel));
        let run = if plan.traffic.closed_loop().is_some() {
            // Closed-loop users through Goose, against the same testbed, into the same Run.
            let users = users::UsersConfig::new(&url).time_scale(time_scale);
            users::run_users_with(&on_testbed, &users, &setup.name, cancel, &observer).map_err(
                |e| match e {
                    users::UsersError::Request { .. } => Failure::input(e),
                    _ => Failure::env(e),
                },
            )
        } else {
            live::run_observed(
                &on_testbed,
                &setup.name,
                &config,
                cancel,
                &progress,
                &observer,
            )
            .map_err(super::load_failure)
        };
        done.store(true, Ordering::Relaxed);
        run
    })?;
    run.policy = setup.policy.kind().to_string();
    run.faults = fault_records(plan, addr)?;
    let (cost, cold_starts, idle) = snapshot_totals(addr)?;
    run.pools = pool_costs(plan, setup, &run, cost);
    run.cold_starts = cold_starts;
    run.idle_fraction = idle;
    run.scale_up_reaction_s = scale_up_reaction(plan, &run);
    Ok(run)
}

/// Posts each of the plan's faults to the admin API at its scenario time, marking the
/// timeline, until the run is `done`.
fn inject_faults(
    plan: &Plan,
    addr: SocketAddr,
    time_scale: f64,
    start: Instant,
    observer: &PrometheusObserver,
    done: &AtomicBool,
    cancel: &AtomicBool,
) {
    let mut faults: Vec<_> = plan.faults.iter().collect();
    faults.sort_by_key(|f| fault_at(f));
    for f in faults {
        let at = fault_at(f);
        let due = start + Duration::from_secs_f64(at.as_secs_f64() / time_scale);
        while Instant::now() < due {
            if done.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(20)));
        }
        let kind = f
            .table
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("fault");
        let body = serde_json::to_string(&f.table).unwrap_or_default();
        match request(&format!("http://{addr}/admin/faults"), "POST", Some(&body)) {
            Ok((200, _)) => observer.mark(format!("{kind}@{at}")),
            Ok((status, text)) => {
                let text = String::from_utf8_lossy(&text);
                tracing::warn!(status, %text, "the testbed refused a fault")
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach the testbed's admin API"),
        }
    }
}

/// When a `[[faults]]` entry strikes (its `at`; the chaos plan has checked it).
fn fault_at(f: &workloads::scenario::RawFault) -> workloads::Duration {
    f.table
        .get("at")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(workloads::Duration::ZERO)
}

/// The testbed's fault records, with their final counts. A planned fault is reported at its
/// planned time (it was injected a few milliseconds later); the testbed's own random spot
/// interruptions at their time, to the millisecond.
fn fault_records(plan: &Plan, addr: SocketAddr) -> Result<Vec<FaultEvent>, Failure> {
    let (_, body) = request(&format!("http://{addr}/admin/faults"), "GET", None)
        .context("cannot read the testbed's fault records")
        .map_err(Failure::env)?;
    let mut records: Vec<FaultEvent> = serde_json::from_slice(&body)
        .context("the testbed's fault records do not parse")
        .map_err(Failure::env)?;
    let mut planned: Vec<_> = plan.faults.iter().map(fault_at).collect();
    planned.sort();
    let mut planned = planned.into_iter().peekable();
    for r in &mut records {
        let at = planned.peek().map(|d| d.as_secs_f64());
        match at {
            Some(at) if (r.t_s - at).abs() < 1.0 => {
                r.t_s = at;
                planned.next();
            }
            _ => r.t_s = (r.t_s * 1000.0).round() / 1000.0,
        }
    }
    Ok(records)
}

/// The testbed's cost so far, its cold starts and its idle share.
fn snapshot_totals(addr: SocketAddr) -> Result<(f64, u32, f64), Failure> {
    let (_, body) = request(&format!("http://{addr}/admin/snapshot"), "GET", None)
        .context("cannot read the testbed's snapshot")
        .map_err(Failure::env)?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .context("the testbed's snapshot does not parse")
        .map_err(Failure::env)?;
    let cost = v
        .get("cost_usd")
        .and_then(|c| c.as_f64())
        .ok_or_else(|| Failure::env(anyhow!("the testbed's snapshot has no cost_usd")))?;
    let cold_starts = v
        .get("cold_starts")
        .and_then(|c| c.as_u64())
        .map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX));
    let idle = v
        .get("idle_fraction")
        .and_then(|c| c.as_f64())
        .unwrap_or(0.0);
    Ok((cost, cold_starts, idle))
}

/// From the first spike or burst to the first window whose ready replicas exceed those at its
/// start, in seconds: the simulator's scale-up reaction, to the resolution of a window (the
/// testbed is sampled once per window).
fn scale_up_reaction(plan: &Plan, run: &SetupRun) -> Option<f64> {
    let t0 = plan
        .traffic
        .shapes
        .iter()
        .filter_map(|s| s.transient_start())
        .map(|d| d.as_secs_f64())
        .reduce(f64::min)?;
    let before = run
        .timeline
        .iter()
        .take_while(|w| w.t_s <= t0)
        .last()
        .map_or(0, |w| w.replicas_ready);
    run.timeline
        .iter()
        .find(|w| w.t_s > t0 && w.replicas_ready > before)
        .map(|w| w.t_s - t0)
}

/// The testbed's total cost, split over the setup's pools in proportion to the node-hours x
/// price seen in the timeline's samples (the testbed reports the total exactly, the split only
/// as sampled).
fn pool_costs(plan: &Plan, setup: &Setup, run: &SetupRun, total: f64) -> BTreeMap<String, PoolRun> {
    let gpus = plan.service.gpus as f64;
    if setup.billing == Billing::Replica {
        let run = PoolRun {
            capacity_type: "on-demand".into(),
            unit_seconds: 0.0,
            usd: total,
            gpu_seconds: 0.0,
            max_units: run.max_ready,
        };
        return [("replicas".to_string(), run)].into_iter().collect();
    }
    let mut pools: BTreeMap<String, PoolRun> = BTreeMap::new();
    let mut prev = 0.0;
    for w in &run.timeline {
        let dt = w.t_s - prev;
        prev = w.t_s;
        for p in &setup.pools {
            let n = w.nodes.get(&p.name).copied().unwrap_or(0);
            let e = pools.entry(p.name.clone()).or_insert_with(|| PoolRun {
                capacity_type: p.capacity_type.as_str().into(),
                unit_seconds: 0.0,
                usd: 0.0,
                gpu_seconds: 0.0,
                max_units: 0,
            });
            e.unit_seconds += n as f64 * dt;
            e.usd += n as f64 * dt * p.price_per_hour / 3600.0;
            e.gpu_seconds += n as f64 * dt * p.gpus_per_node as f64;
            e.max_units = e.max_units.max(n);
        }
    }
    let sampled: f64 = pools.values().map(|p| p.usd).sum();
    if sampled <= 0.0 {
        // No node seen in a sample (a very short run): the first pool carries the total.
        if let Some(p) = pools.values_mut().next() {
            p.usd = total;
        }
        return pools;
    }
    for p in pools.values_mut() {
        p.usd = total * p.usd / sampled;
        if gpus == 0.0 {
            p.gpu_seconds = 0.0;
        }
    }
    pools
}
