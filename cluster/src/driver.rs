//! The cluster as a [`Driver`] (`scalebench run --driver cluster`): each setup, one after the
//! other on the same cluster and from the same start, is
//!
//! 1. **set up**: its objects (`manifests`) server-side applied, its Deployment scaled to the
//!    setup's initial replicas (plus its warm pool) and the run held until the rollout is done
//!    and stays done for `settle` ([`Setup`]);
//! 2. **observed** from then on by kube-runtime watchers ([`Observer`]), which give the
//!    timeline its replicas, pods, nodes, GPUs and cost;
//! 3. **loaded** by the live open-loop engine at its `url`, while the scenario's faults play
//!    at their times through the API ([`crate::play`]);
//! 4. **put back**: the faults' taints and cordons undone (from the journal), the original
//!    objects and replicas restored; also when the run is cut short (Ctrl-C, SIGTERM) or fails.
//!
//! Under `--dry-run` nothing is written to the cluster: every write is recorded (and printed by
//! the command) instead; the load is still sent and the cluster still observed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use live::{LoadConfig, Observed, Progress};
use scalebench_core::drive::{Control, DriveError, Driver};
use scalebench_core::kubernetes::Kubernetes;
use scalebench_core::run::{
    ClusterRun, ColdStarts, RefusalRecord, SetupRun, UndoRecord, WatchErrorRecord,
};
use scalebench_core::{Plan, Setup as PlanSetup};

use crate::act::{Act, Call};
use crate::fault::{FaultConfig, Faults};
use crate::observer::{Observer, kube_config};
use crate::play::{Played, play};
use crate::setup::{Settle, Setup};

/// The file every write of a run is listed in (one JSON [`Call`] per line), in its out dir.
pub const CALLS_FILE: &str = "cluster-calls.jsonl";

/// How long the watchers may take to list everything once before the load starts anyway (the
/// timeline's service side is `null` until they have).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs setups on the cluster their `[kubernetes]` tables name.
#[derive(Debug)]
pub struct ClusterDriver {
    rt: tokio::runtime::Runtime,
    out_dir: PathBuf,
    dry_run: bool,
    run_id: String,
}

impl ClusterDriver {
    /// A driver writing its journal and list of calls into `out_dir` (the run's output
    /// directory, created if missing); with `dry_run`, no write reaches the cluster.
    pub fn new(out_dir: &Path, dry_run: bool) -> Result<ClusterDriver, DriveError> {
        std::fs::create_dir_all(out_dir)
            .map_err(|e| DriveError::env(format!("cannot create {}: {e}", out_dir.display())))?;
        // A list of this run's calls only.
        match std::fs::remove_file(out_dir.join(CALLS_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(DriveError::env(format!(
                    "cannot start a new {} in {}: {e}",
                    CALLS_FILE,
                    out_dir.display()
                )));
            }
            _ => {}
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("scalebench-cluster")
            .enable_all()
            .build()
            .map_err(|e| DriveError::env(format!("cannot start the cluster runtime: {e}")))?;
        let run_id = format!(
            "sb-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        Ok(ClusterDriver {
            rt,
            out_dir: out_dir.to_path_buf(),
            dry_run,
            run_id,
        })
    }

    /// The run's id: the value of the interruption taints it sets.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Driver for ClusterDriver {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn parallel(&self) -> usize {
        1
    }

    fn run(
        &self,
        plan: &Plan,
        setups: &[&PlanSetup],
        control: Control<'_>,
    ) -> Result<Vec<SetupRun>, DriveError> {
        let mut runs = Vec::with_capacity(setups.len());
        for setup in setups {
            runs.push(self.run_setup(plan, setup, control.cancel)?);
        }
        control.reach(plan.duration.as_nanos());
        Ok(runs)
    }
}

/// The timeline's observer: the cluster's state, and the markers of both the watchers (watch
/// errors, relists) and the faults played.
struct RunObserver {
    observer: Arc<Observer>,
    played: Arc<Played>,
}

impl live::Observer for RunObserver {
    fn observe(&self) -> Option<Observed> {
        live::Observer::observe(&*self.observer)
    }

    fn markers(&self) -> Vec<String> {
        let mut m = self.played.take_markers();
        m.extend(live::Observer::markers(&*self.observer));
        m
    }
}

/// Resolves when `cancel` is set.
async fn cancelled(cancel: &AtomicBool) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl ClusterDriver {
    fn run_setup(
        &self,
        plan: &Plan,
        setup: &PlanSetup,
        cancel: &AtomicBool,
    ) -> Result<SetupRun, DriveError> {
        let k = setup.kubernetes.as_ref().ok_or_else(|| {
            DriveError::input(format!(
                "{}: setup {:?} has no [kubernetes] table (nor [setup.kubernetes]): the cluster driver needs at least url, namespace, selector and deployment (see docs/kubernetes.md)",
                plan.path.display(),
                setup.name
            ))
        })?;
        let config = self
            .rt
            .block_on(kube_config(&k.target))
            .map_err(DriveError::input)?;
        let client = {
            let _enter = self.rt.enter();
            kube::Client::try_from(config.clone()).map_err(DriveError::env)?
        };
        let act = Act::new(client, self.dry_run);
        let mut objects = match &k.manifests {
            Some(path) => {
                let yaml = std::fs::read_to_string(path).map_err(|e| {
                    DriveError::input(format!(
                        "setup {:?}: cannot read its manifests {}: {e}",
                        setup.name,
                        path.display()
                    ))
                })?;
                Setup::from_yaml(act.clone(), &k.target.namespace, &yaml).map_err(|e| {
                    DriveError::input(format!("setup {:?}: {}: {e}", setup.name, path.display()))
                })?
            }
            None => Setup::empty(act.clone(), &k.target.namespace),
        };
        let replicas = setup.initial_replicas.saturating_add(setup.warm_pool);
        objects = objects.scaling(
            &k.target.deployment,
            i32::try_from(replicas).unwrap_or(i32::MAX),
        );
        let settle = Settle {
            settle: k.settle.into(),
            timeout: k.settle_timeout.into(),
            ..Settle::default()
        };
        tracing::info!(setup = %setup.name, namespace = %k.target.namespace, deployment = %k.target.deployment, replicas, "applying the setup");
        let applied = self.rt.block_on(async {
            tokio::select! {
                r = objects.apply(settle) => Some(r),
                () = cancelled(cancel) => None,
            }
        });
        let result = match applied {
            Some(Ok(_)) => self.measure(plan, setup, k, act.clone(), config, cancel),
            Some(Err(e)) => Err(DriveError::env(format!("setup {:?}: {e}", setup.name))),
            // Cut short before the load: the engine, cancelled, returns an empty run marked
            // interrupted.
            None => self.load_config(k).and_then(|load| {
                let mut run = live::run(plan, &setup.name, &load, cancel, &Progress::default())
                    .map_err(DriveError::env)?;
                run.policy = setup.policy.kind().to_string();
                Ok(run)
            }),
        };
        tracing::info!(setup = %setup.name, "restoring the original objects");
        let restored = self.rt.block_on(objects.restore());
        let calls = act.calls();
        self.write_calls(&calls);
        let result = result.map(|mut run| {
            if let Some(c) = run.cluster.as_mut() {
                c.api_calls = u32::try_from(calls.len()).unwrap_or(u32::MAX);
            }
            run
        });
        match (result, restored) {
            (Ok(run), Ok(())) => Ok(run),
            (Ok(_), Err(e)) => Err(DriveError::env(format!(
                "setup {:?} ran, but {e}; put them back by hand",
                setup.name
            ))),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(r)) => Err(DriveError::env(format!("{e}; and then {r}"))),
        }
    }

    /// The observed, loaded and faulted part of a setup's run, after its setup settled.
    fn measure(
        &self,
        plan: &Plan,
        setup: &PlanSetup,
        k: &Kubernetes,
        act: Act,
        config: kube::Config,
        cancel: &AtomicBool,
    ) -> Result<SetupRun, DriveError> {
        let handle = self.rt.handle().clone();
        let observer = Arc::new(
            Observer::start(act.client().clone(), &k.target, &handle).map_err(DriveError::input)?,
        );
        let synced = self.rt.block_on(observer.synced(SYNC_TIMEOUT));
        if !synced {
            tracing::warn!(setup = %setup.name, "the cluster's watchers have not listed everything within {SYNC_TIMEOUT:?}: the timeline's service side is null until they do");
        }
        let faults = Arc::new(
            Faults::new(
                act,
                &k.target,
                FaultConfig {
                    namespaces: k.allow_namespaces.clone(),
                    delete_interrupted_nodes: k.delete_interrupted_nodes,
                    ..FaultConfig::new(self.run_id.clone())
                },
                &self.out_dir,
            )
            .map_err(DriveError::env)?,
        );
        // Undoes the faults' taints and cordons on every way out, a panic included.
        let guard = faults.guard(Some(config));
        let played = Arc::new(Played::default());
        let load = self.load_config(k)?;
        let run_observer = RunObserver {
            observer: observer.clone(),
            played: played.clone(),
        };
        let before = std::time::SystemTime::now();
        let mut tasks = {
            let _enter = self.rt.enter();
            play(
                &plan.faults,
                plan.seed,
                tokio::time::Instant::now(),
                faults.clone(),
                observer.clone(),
                played.clone(),
                &handle,
            )
        };
        let measured = live::run_observed(
            plan,
            &setup.name,
            &load,
            cancel,
            &Progress::default(),
            &run_observer,
        );
        self.rt.block_on(async {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        });
        let undone = self.rt.block_on(guard.undo());
        let mut run = measured.map_err(|e| match e {
            live::LoadError::Target(_) => DriveError::input(e),
            _ => DriveError::env(e),
        })?;
        match &undone {
            Ok(report) if report.failed.is_empty() => {}
            Ok(report) => {
                tracing::error!(failed = ?report.failed, journal = ?faults.journal_path(), "some taints or cordons could not be undone: run `scalebench cluster undo` on the journal")
            }
            Err(e) => {
                tracing::error!(error = %e, journal = ?faults.journal_path(), "undoing the faults failed: run `scalebench cluster undo` on the journal")
            }
        }
        let state = observer.state();
        run.policy = setup.policy.kind().to_string();
        if state.synced {
            run.pools = state.pools.clone();
            run.max_ready = Some(state.max_ready);
            let mut cold = ColdStarts::new();
            for s in &state.cold_starts {
                cold.push(*s);
            }
            cold.add_unfinished(state.unfinished_cold_starts);
            run.cold_starts = Some(cold);
        }
        run.faults = played.events();
        let since_start = |t: k8s_openapi::jiff::Timestamp| {
            let start = k8s_openapi::jiff::Timestamp::try_from(before).unwrap_or(t);
            (t.as_nanosecond() - start.as_nanosecond()) as f64 / 1e9
        };
        run.cluster = Some(ClusterRun {
            context: k.target.context.clone(),
            namespace: k.target.namespace.clone(),
            deployment: k.target.deployment.clone(),
            synced,
            relists: state.relists,
            watch_errors: state
                .errors
                .iter()
                .map(|e| WatchErrorRecord {
                    t_s: since_start(e.at),
                    resource: e.resource.clone(),
                    kind: e.kind.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            stale_s: state.longest_stale.map(|d| d.as_secs_f64()),
            eviction_refusals: faults
                .refusals()
                .into_iter()
                .map(|r| RefusalRecord {
                    t_s: since_start(r.at),
                    pod: if r.namespace == k.target.namespace {
                        r.pod
                    } else {
                        format!("{}/{}", r.namespace, r.pod)
                    },
                    message: r.message,
                })
                .collect(),
            // Counted by run_setup once the restore has written too.
            api_calls: 0,
            dry_run: self.dry_run,
            undo: match undone {
                Ok(r) if r.undone.is_empty() && r.failed.is_empty() => None,
                Ok(r) => Some(UndoRecord {
                    undone: u32::try_from(r.undone.len()).unwrap_or(u32::MAX),
                    failed: r.failed,
                }),
                Err(e) => Some(UndoRecord {
                    undone: 0,
                    failed: vec![format!(
                        "{e} (the journal {} keeps what is pending)",
                        faults
                            .journal_path()
                            .map_or_else(|| "-".to_string(), |p| p.display().to_string())
                    )],
                }),
            },
        });
        if let Some(spec) = plan.prometheus.as_ref().filter(|_| !run.interrupted) {
            let clock = live::promql::RunClock::of(&run, plan.window, 1.0, before);
            live::promql::fill(&mut run, spec, clock, &live::TlsOptions::default());
        }
        Ok(run)
    }

    /// The load engine's settings: its defaults, at the setup's endpoint.
    fn load_config(&self, k: &Kubernetes) -> Result<LoadConfig, DriveError> {
        let target = live::Target::new(&k.url, None, &[], None, |var| std::env::var(var).ok())
            .map_err(DriveError::input)?;
        Ok(LoadConfig::new(target))
    }

    /// Appends the setup's writes to [`CALLS_FILE`] (a failure to is logged: the calls were
    /// made, or recorded, either way).
    fn write_calls(&self, calls: &[Call]) {
        use std::io::Write;
        let path = self.out_dir.join(CALLS_FILE);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                for c in calls {
                    let line = serde_json::to_string(c).map_err(std::io::Error::other)?;
                    writeln!(f, "{line}")?;
                }
                f.sync_all()
            });
        if let Err(e) = written {
            tracing::error!(path = %path.display(), error = %e, "cannot write the list of cluster calls");
        }
    }
}
