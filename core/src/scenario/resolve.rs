//! Resolving a scenario file into a [`Plan`]: defaults filled in, cross-references checked, and
//! every problem pinned to the place in the file it comes from.

use std::collections::HashSet;
use std::path::Path;

use toml::Spanned;

use super::*;
use crate::error::Located;
use crate::fault::{Fault, FaultPlan};
use crate::policy::PolicyConfig;
use crate::template::{RequestSpec, Template};
use crate::traffic::{ArrivalKind, Shape, Traffic};
use crate::units::Duration;

pub(super) struct Resolver<'a> {
    pub(super) path: &'a Path,
    pub(super) src: &'a str,
}

impl Resolver<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> Result<T, Located> {
        Err(Located::at(self.path, self.src, span.start, msg))
    }

    pub(super) fn resolve(&self, f: ScenarioFile) -> Result<Plan, Located> {
        if f.duration.get_ref().is_zero() {
            return self.err(f.duration.span(), "duration must be longer than zero");
        }
        let duration = *f.duration.get_ref();
        let slo = f.slo.get_ref().clone();
        if !(slo.percentile > 0.0 && slo.percentile < 100.0) {
            return self.err(
                f.slo.span(),
                format!(
                    "slo.percentile must be between 0 and 100, found {}",
                    slo.percentile
                ),
            );
        }
        for (key, bound) in [("ttft", slo.ttft), ("tpot", slo.tpot)] {
            if bound.is_some_and(Duration::is_zero) {
                return self.err(f.slo.span(), format!("slo.{key} must be longer than zero"));
            }
        }
        if slo.latency.is_zero() {
            return self.err(f.slo.span(), "slo.latency must be longer than zero");
        }
        let mut traffic = f.traffic.get_ref().clone();
        let trace = self
            .resolve_trace(&mut traffic, f.seed, duration)
            .or_else(|msg| self.err(f.traffic.span(), msg))?;
        let mut service = f.service.get_ref().clone();
        self.resolve_llm(&mut service, &traffic, trace.as_ref())
            .or_else(|msg| self.err(f.service.span(), msg))?;
        if service.concurrency == 0 || service.concurrency > MAX_CONCURRENCY {
            return self.err(
                f.service.span(),
                format!(
                    "service.concurrency must be between 1 and {MAX_CONCURRENCY}, found {}",
                    service.concurrency
                ),
            );
        }
        if service.time.mean_secs() <= 0.0 {
            return self.err(
                f.service.span(),
                "service.time must have a mean above zero (or give [service.llm], the token model, and [traffic.tokens])",
            );
        }
        crate::users::check(f.traffic.get_ref(), duration)
            .or_else(|msg| self.err(f.traffic.span(), msg))?;
        self.check_traffic(&f.traffic)?;
        let pools = self.check_pools(&f.cluster, service.gpus)?;
        if f.setups.is_empty() {
            return self.err(0..0, "a scenario needs at least one [[setup]] to run");
        }
        let mut names = HashSet::new();
        let mut setups = Vec::with_capacity(f.setups.len());
        for s in &f.setups {
            let mut setup = self.resolve_setup(s, &f.cluster, &pools, &service)?;
            setup.kubernetes = self.resolve_kubernetes(f.kubernetes.as_ref(), s)?;
            if !names.insert(setup.name.clone()) {
                return self.err(s.span(), format!("two setups are named {:?}", setup.name));
            }
            setups.push(setup);
        }
        for c in &mut traffic.classes {
            if let Some(r) = &mut c.request {
                self.check_request(&c.name, r)
                    .or_else(|msg| self.err(f.traffic.span(), msg))?;
            }
        }
        check_openai(&traffic, trace.as_ref()).or_else(|msg| self.err(f.traffic.span(), msg))?;
        let capacity_rps = self.capacity(
            &f.traffic,
            &service,
            &setups,
            trace.and_then(|t| t.mean_tokens),
        )?;
        let window = match &f.window {
            Some(w) if w.get_ref().is_zero() => {
                return self.err(w.span(), "window must be longer than zero");
            }
            Some(w) if duration.as_nanos().div_ceil(w.get_ref().as_nanos()) > MAX_USER_WINDOWS => {
                return self.err(
                    w.span(),
                    format!(
                        "window {} cuts a {duration} run into more than {MAX_USER_WINDOWS} windows; use a longer window (or leave it out for about {MAX_WINDOWS})",
                        w.get_ref()
                    ),
                );
            }
            Some(w) => *w.get_ref(),
            None => auto_window(duration),
        };
        let name = f.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
        });
        let setup_names: Vec<&str> = setups.iter().map(|s| s.name.as_str()).collect();
        let gate = self.resolve_gate(&f.thresholds, f.gate.as_ref(), Some(&setup_names))?;
        let mut plan = Plan {
            name,
            description: f.description.clone(),
            path: self.path.to_path_buf(),
            duration,
            seed: f.seed,
            window,
            slo,
            traffic,
            capacity_rps,
            service,
            scan_interval: f.cluster.scan_interval,
            scale_down_unneeded: f.cluster.scale_down_unneeded,
            setups,
            faults: FaultPlan::default(),
            gate,
            prometheus: self.resolve_prometheus(f.prometheus.as_ref())?,
            trace,
        };
        let offered = crate::arrivals::ArrivalStream::new(&plan).expected_count();
        if offered.is_nan() || offered > MAX_REQUESTS {
            let about = if offered.is_finite() {
                format!("about {offered:.3e}")
            } else {
                "more than 1e300".to_string()
            };
            return self.err(
                f.traffic.span(),
                format!(
                    "the traffic offers {about} requests; at most {MAX_REQUESTS:.0e} are supported per run"
                ),
            );
        }
        plan.faults = self.resolve_faults(&f.faults, duration, &plan.setups)?;
        Ok(plan)
    }

    /// `[prometheus]`, checked: an http(s) URL, known timeline fields, at least one query.
    fn resolve_prometheus(
        &self,
        p: Option<&Spanned<PrometheusFile>>,
    ) -> Result<Option<PrometheusSpec>, Located> {
        let Some(p) = p else { return Ok(None) };
        let f = p.get_ref();
        if let Err(msg) = crate::prometheus::check_url(f.url.get_ref()) {
            return self.err(f.url.span(), format!("prometheus.url: {msg}"));
        }
        let empty = Default::default();
        let queries = f.queries.as_ref().map_or(&empty, |q| q.get_ref());
        let at = f.queries.as_ref().map_or(p.span(), |q| q.span());
        PrometheusSpec::new(
            f.url.get_ref(),
            f.token_env.as_deref(),
            &f.presets,
            queries,
            f.scrape_interval,
            f.settle,
        )
        .map(Some)
        .or_else(|msg| self.err(at, format!("[prometheus]: {msg}")))
    }

    /// The `[[faults]]` entries, each read and checked against the run, every problem located
    /// at its entry.
    fn resolve_faults(
        &self,
        entries: &[Spanned<toml::Table>],
        duration: Duration,
        setups: &[Setup],
    ) -> Result<FaultPlan, Located> {
        let mut faults = Vec::with_capacity(entries.len());
        for entry in entries {
            let fault = Fault::from_table(entry.get_ref().clone())
                .and_then(|fault| fault.check(duration, setups).map(|()| fault))
                .or_else(|msg| self.err(entry.span(), msg))?;
            faults.push(fault);
        }
        Ok(FaultPlan::new(faults))
    }

    fn check_traffic(&self, t: &Spanned<Traffic>) -> Result<(), Located> {
        let traffic = t.get_ref();
        match (traffic.arrival, traffic.cv) {
            (ArrivalKind::Gamma, None) => {
                return self.err(t.span(), "arrival = \"gamma\" needs cv (the coefficient of variation of the gaps, e.g. cv = 2.0)");
            }
            (ArrivalKind::Gamma, Some(cv)) if !(cv > 0.0 && cv.is_finite()) => {
                return self.err(t.span(), format!("cv must be above zero, found {cv}"));
            }
            (ArrivalKind::Poisson | ArrivalKind::Constant, Some(_)) => {
                return self.err(t.span(), "cv only applies to arrival = \"gamma\"");
            }
            _ => {}
        }
        if traffic.shapes.is_empty() && traffic.closed_loop().is_none() && traffic.trace.is_none() {
            return self.err(t.span(), "traffic needs at least one [[traffic.shape]] (e.g. kind = \"steady\", rate = \"50%\")");
        }
        for shape in &traffic.shapes {
            match shape {
                Shape::Spike { factor, .. } if !(*factor >= 0.0 && factor.is_finite()) => {
                    return self.err(
                        t.span(),
                        format!("a spike's factor must be zero or more, found {factor}"),
                    );
                }
                Shape::Diurnal {
                    min, max, period, ..
                } => {
                    if period.is_zero() {
                        return self.err(t.span(), "a diurnal shape needs a period above zero");
                    }
                    if let (crate::Rate::Rps(lo), crate::Rate::Rps(hi)) = (min, max)
                        && lo > hi
                    {
                        return self.err(
                            t.span(),
                            format!("a diurnal shape needs min <= max, found {lo} > {hi}"),
                        );
                    }
                }
                _ => {}
            }
        }
        let mut names = HashSet::new();
        for c in &traffic.classes {
            if !(c.weight > 0.0 && c.weight.is_finite()) {
                return self.err(
                    t.span(),
                    format!("class {:?} needs a weight above zero", c.name),
                );
            }
            if !names.insert(c.name.as_str()) {
                return self.err(
                    t.span(),
                    format!("two request classes are named {:?}", c.name),
                );
            }
        }
        if traffic.classes.len() > u16::MAX as usize {
            return self.err(t.span(), "too many request classes");
        }
        Ok(())
    }

    /// Reads a class's `body_file` into its body and checks the body template: its fields,
    /// and that a body that looks like JSON is JSON once they are filled in.
    fn check_request(&self, class: &str, r: &mut RequestSpec) -> Result<(), String> {
        if let Some(file) = r.body_file.take() {
            if r.body.is_some() {
                return Err(format!("class {class:?}: give body or body_file, not both"));
            }
            let path = self
                .path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(&file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "class {class:?}: cannot read body_file {}: {e}",
                    path.display()
                )
            })?;
            r.body = Some(text);
        }
        if let Some(p) = &r.path
            && !p.starts_with('/')
        {
            return Err(format!(
                "class {class:?}: request path must start with /, found {p:?}"
            ));
        }
        if let Some(body) = &r.body {
            let t = Template::parse(body).map_err(|e| format!("class {class:?}: body: {e}"))?;
            let first = body.trim_start().chars().next();
            if matches!(first, Some('{' | '[')) {
                let mut sample = String::new();
                t.render(0, 0, class, &mut sample);
                if let Err(e) = serde_json::from_str::<serde_json::Value>(&sample) {
                    return Err(format!(
                        "class {class:?}: the body looks like JSON but is not, once its fields are filled in ({e}): {}",
                        sample.chars().take(120).collect::<String>()
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_pools(&self, cluster: &Cluster, gpus: u32) -> Result<Vec<Pool>, Located> {
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for p in &cluster.pools {
            let pool = p.get_ref();
            if !names.insert(pool.name.clone()) {
                return self.err(p.span(), format!("two pools are named {:?}", pool.name));
            }
            if !(pool.price_per_hour >= 0.0 && pool.price_per_hour.is_finite()) {
                return self.err(p.span(), "price_per_hour must be zero or more");
            }
            if !(pool.interruption_rate >= 0.0 && pool.interruption_rate.is_finite()) {
                return self.err(
                    p.span(),
                    "interruption_rate must be zero or more (interruptions per node-hour)",
                );
            }
            if pool.interruption_rate > 0.0 && pool.capacity_type != CapacityType::Spot {
                return self.err(
                    p.span(),
                    format!(
                        "pool {:?} is on-demand: only spot pools have an interruption_rate",
                        pool.name
                    ),
                );
            }
            if !(pool.speed > 0.0 && pool.speed.is_finite()) {
                return self.err(
                    p.span(),
                    format!(
                        "pool {:?}: speed must be above zero, found {}",
                        pool.name, pool.speed
                    ),
                );
            }
            if pool.min_nodes > pool.max_nodes {
                return self.err(
                    p.span(),
                    format!(
                        "pool {:?}: min_nodes {} is above max_nodes {}",
                        pool.name, pool.min_nodes, pool.max_nodes
                    ),
                );
            }
            if pool.replicas_per_node(gpus) == 0 {
                return self.err(p.span(), format!(
                    "pool {:?}: a replica needs {gpus} GPUs but a node has {} (set gpus_per_node, or pods_per_node for a CPU service)",
                    pool.name, pool.gpus_per_node
                ));
            }
            out.push(pool.clone());
        }
        Ok(out)
    }

    /// `[kubernetes]` with the setup's `[setup.kubernetes]` over it, checked; `None` when neither
    /// is written. An error points at the setup's table when it has one (a value may be
    /// missing from both), else at `[kubernetes]`.
    fn resolve_kubernetes(
        &self,
        top: Option<&Spanned<crate::kubernetes::KubernetesFile>>,
        s: &Spanned<SetupFile>,
    ) -> Result<Option<crate::kubernetes::Kubernetes>, Located> {
        let own = s.get_ref().kubernetes.as_ref();
        let span = match (own, top) {
            (None, None) => return Ok(None),
            (Some(k), _) => k.span(),
            (None, Some(k)) => k.span(),
        };
        let base = top.map(|t| t.get_ref().clone()).unwrap_or_default();
        let merged = match own {
            Some(k) => k.get_ref().over(&base),
            None => base,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        match merged.resolve(dir) {
            Ok(k) => Ok(Some(k)),
            Err(e) => self.err(
                span,
                format!("setup {:?}: {}", s.get_ref().name, kube_message(&e)),
            ),
        }
    }

    fn resolve_setup(
        &self,
        s: &Spanned<SetupFile>,
        cluster: &Cluster,
        pools: &[Pool],
        service: &Service,
    ) -> Result<Setup, Located> {
        let f = s.get_ref();
        let span = s.span();
        let mut chosen = Vec::new();
        if let Some(c) = &f.fixed {
            chosen.push(PolicyConfig::Fixed(c.clone()));
        }
        if let Some(c) = &f.hpa {
            chosen.push(PolicyConfig::Hpa(c.clone()));
        }
        if let Some(c) = &f.kpa {
            chosen.push(PolicyConfig::Kpa(c.clone()));
        }
        if let Some(c) = &f.keda {
            chosen.push(PolicyConfig::Keda(c.clone()));
        }
        if let Some(c) = &f.cost_aware {
            chosen.push(PolicyConfig::CostAware(c.clone()));
        }
        if chosen.len() != 1 {
            return self.err(span, format!(
                "setup {:?} needs exactly one policy table ([setup.fixed], [setup.hpa], [setup.kpa], [setup.keda] or [setup.cost-aware]), found {}",
                f.name,
                chosen.len()
            ));
        }
        let policy = chosen.remove(0);
        if let Err(msg) = crate::validate_policy(&policy) {
            return self.err(span, format!("setup {:?}: {msg}", f.name));
        }
        let billing = f.billing.unwrap_or(cluster.billing);
        let price = f.price_per_replica_hour.or(cluster.price_per_replica_hour);
        let pools = match &f.pools {
            None => pools.to_vec(),
            Some(names) => {
                let mut v = Vec::new();
                for n in names {
                    match pools.iter().find(|p| &p.name == n) {
                        Some(p) => v.push(p.clone()),
                        None => {
                            let known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                            return self.err(span, format!("setup {:?} names pool {n:?}, which is not defined (pools: {known:?})", f.name));
                        }
                    }
                }
                v
            }
        };
        let price_per_replica_hour = match (billing, price) {
            (Billing::Replica, None) => {
                return self.err(span, format!("setup {:?} uses billing = \"replica\" and needs price_per_replica_hour (in [cluster] or the setup)", f.name));
            }
            (_, Some(p)) if !(p >= 0.0 && p.is_finite()) => {
                return self.err(span, "price_per_replica_hour must be zero or more");
            }
            (_, p) => p.unwrap_or(0.0),
        };
        if let PolicyConfig::CostAware(c) = &policy {
            for name in c.throughput.keys() {
                let known = match billing {
                    Billing::Node => pools.iter().any(|p| &p.name == name),
                    Billing::Replica => name == "replicas",
                };
                if !known {
                    let names: Vec<&str> = match billing {
                        Billing::Node => pools.iter().map(|p| p.name.as_str()).collect(),
                        Billing::Replica => vec!["replicas"],
                    };
                    return self.err(span, format!(
                        "setup {:?}: cost-aware throughput names {name:?}, which is not one of its pools ({names:?})",
                        f.name
                    ));
                }
            }
        }
        if billing == Billing::Node && pools.is_empty() {
            return self.err(
                span,
                format!(
                    "setup {:?} uses node billing but no [[cluster.pool]] is defined for it",
                    f.name
                ),
            );
        }
        let speed = f.speed.unwrap_or(1.0);
        if !(speed > 0.0 && speed.is_finite()) {
            return self.err(
                span,
                format!("setup {:?}: speed must be above zero", f.name),
            );
        }
        let scrape_delay = f.scrape_delay.unwrap_or(match policy {
            PolicyConfig::Kpa(_) => Duration::from_secs(1),
            _ => Duration::from_secs(15),
        });
        let initial_replicas = f.initial_replicas.unwrap_or(policy.initial_replicas());
        if initial_replicas > policy.max_replicas() {
            return self.err(
                span,
                format!(
                    "setup {:?}: initial_replicas {initial_replicas} is above the policy's maximum {}",
                    f.name,
                    policy.max_replicas()
                ),
            );
        }
        Ok(Setup {
            name: f.name.clone(),
            policy,
            warm_pool: f.warm_pool,
            scrape_delay,
            lifecycle: service.lifecycle.with(&f.lifecycle),
            billing,
            price_per_replica_hour,
            pools,
            speed,
            initial_replicas,
            retry_killed: f.retry_killed,
            kubernetes: None,
        })
    }

    fn capacity(
        &self,
        t: &Spanned<Traffic>,
        service: &Service,
        setups: &[Setup],
        trace_tokens: Option<(f64, f64)>,
    ) -> Result<f64, Located> {
        let traffic = t.get_ref();
        if let Some(c) = traffic.capacity {
            if !(c > 0.0 && c.is_finite()) {
                return self.err(t.span(), "traffic.capacity must be above zero");
            }
            return Ok(c);
        }
        let replicas = traffic.capacity_replicas.unwrap_or_else(|| {
            setups
                .iter()
                .map(|s| s.policy.max_replicas())
                .max()
                .unwrap_or(0)
        });
        let means =
            trace_tokens.or_else(|| traffic.tokens.map(|t| (t.prompt.mean(), t.output.mean())));
        let per_replica = match (&service.llm, means) {
            (Some(m), Some((prompt, output))) => m.capacity_rps(prompt, output),
            _ => service.concurrency as f64 / service.time.mean_secs(),
        };
        let cap = replicas as f64 * per_replica;
        let needs = traffic
            .shapes
            .iter()
            .any(|s| s.rates().iter().any(|r| r.needs_capacity()));
        if needs && (cap.is_nan() || cap <= 0.0) {
            return self.err(t.span(), "rates are given as a share of capacity, but capacity is zero: set traffic.capacity (rps) or traffic.capacity_replicas");
        }
        Ok(cap)
    }
}

impl Resolver<'_> {
    /// With `[traffic.trace]`: resolves its file against the scenario's folder, seeds it from
    /// the scenario, and reads the trace once (every row checked: a malformed one is an error
    /// naming the trace's file and line, unless `malformed = "skip"`).
    fn resolve_trace(
        &self,
        traffic: &mut Traffic,
        seed: u64,
        duration: Duration,
    ) -> Result<Option<crate::traffic::TraceInfo>, String> {
        let Some(spec) = traffic.trace.as_mut() else {
            return Ok(None);
        };
        if !traffic.shapes.is_empty() {
            return Err(
                "[traffic.trace] replaces the rate shapes: remove the [[traffic.shape]] tables (or the trace)"
                    .into(),
            );
        }
        if spec.file.is_relative() {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            spec.file = dir.join(&spec.file);
        }
        if spec.seed == 0 {
            spec.seed = seed ^ 0x7ace_5eed_0000_0001;
        }
        let s = traces::scan(spec).map_err(|e| format!("[traffic.trace]: {e}"))?;
        let pass = s.pass_length.as_secs_f64();
        let run = duration.as_secs_f64();
        let expected = if pass <= 0.0 {
            s.expected_per_pass
        } else if spec.looping {
            s.expected_per_pass * run / pass
        } else {
            s.expected_per_pass * (run / pass).min(1.0)
        };
        let mean_tokens = if s.prompt_tokens || s.output_tokens {
            let mut replay = traces::open(spec).map_err(|e| format!("[traffic.trace]: {e}"))?;
            let (mut n, mut p, mut o) = (0u64, 0.0, 0.0);
            for r in replay.by_ref().take(100_000) {
                let r = r.map_err(|e| format!("[traffic.trace]: {e}"))?;
                n += 1;
                p += f64::from(r.prompt_tokens.unwrap_or(0));
                o += f64::from(r.output_tokens.unwrap_or(1).max(1));
            }
            (n > 0).then(|| (p / n as f64, o / n as f64))
        } else {
            None
        };
        Ok(Some(crate::traffic::TraceInfo {
            requests: s.requests,
            skipped: s.skipped,
            span_s: s.span.as_secs_f64(),
            expected,
            mean_tokens,
        }))
    }

    /// With `[service.llm]`: checks the token model, makes its batch the replica's
    /// concurrency, and, when `service.time` was left out, sets it to the time of a request of
    /// mean lengths alone on a replica (what capacity and the timeouts' defaults read).
    fn resolve_llm(
        &self,
        service: &mut Service,
        traffic: &Traffic,
        trace: Option<&crate::traffic::TraceInfo>,
    ) -> Result<(), String> {
        let Some(m) = service.llm else {
            return Ok(());
        };
        m.check()?;
        let means = match (traffic.tokens, trace.and_then(|t| t.mean_tokens)) {
            (_, Some(means)) => means,
            (Some(t), None) => (t.prompt.mean(), t.output.mean()),
            (None, None) => {
                return Err(
                    "[service.llm] needs the requests' token counts: add [traffic.tokens] with prompt and output (or replay a trace that has them)"
                        .into(),
                );
            }
        };
        service.concurrency = m.max_batch;
        if service.time.mean_secs() <= 0.0 {
            let mean = crate::llm::Tokens {
                prompt: means.0.round() as u32,
                output: (means.1.round() as u32).max(1),
            };
            service.time = crate::dist::DurationDist::fixed(Duration::from_nanos(m.alone_ns(mean)));
        }
        Ok(())
    }
}

/// With `[traffic.openai]`: the requests have token counts to build prompts and `max_tokens`
/// from, the arrivals are open loop, and no class writes a body or a method of its own (its
/// path and headers still apply).
fn check_openai(
    traffic: &Traffic,
    trace: Option<&crate::traffic::TraceInfo>,
) -> Result<(), String> {
    let Some(spec) = &traffic.openai else {
        return Ok(());
    };
    if spec.model.trim().is_empty() {
        return Err(
            "[traffic.openai] needs a model: the name the endpoint serves (model = \"...\")".into(),
        );
    }
    if traffic.closed_loop().is_some() {
        return Err(
            "[traffic.openai] sends the open-loop arrivals; closed-loop users (executor = \"users\") send their classes' own requests"
                .into(),
        );
    }
    if traffic.tokens.is_none() && trace.and_then(|t| t.mean_tokens).is_none() {
        return Err(
            "[traffic.openai] needs the requests' token counts for its prompts and max_tokens: add [traffic.tokens] with prompt and output (or replay a trace that has them)"
                .into(),
        );
    }
    for c in &traffic.classes {
        if let Some(r) = &c.request
            && (r.body.is_some() || r.method.is_some())
        {
            return Err(format!(
                "class {:?}: with [traffic.openai] every body is an OpenAI request (POST); a class's request may set path and headers only",
                c.name
            ));
        }
    }
    Ok(())
}

/// A [`crate::kubernetes::ConfigError`] as a scenario message: `kubernetes.FIELD ...`.
fn kube_message(e: &crate::kubernetes::ConfigError) -> String {
    match e {
        crate::kubernetes::ConfigError::Invalid { field, expected } => {
            format!("kubernetes.{field} {expected}")
        }
        other => other.to_string(),
    }
}
