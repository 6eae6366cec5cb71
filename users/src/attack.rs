//! The GooseAttack a scenario's `[traffic.users]` become: one Goose scenario whose single
//! transaction is one closed-loop step of a user (pick a request class by weight, POST it,
//! wait for the whole answer, think), `count` users started evenly over `ramp`.
//!
//! Each user draws its classes and think times from its own random stream, seeded from the
//! scenario's seed and the user's number, so a run can be repeated. Think time is slept inside
//! the transaction, not through Goose's `set_wait_time`, because Goose waits a uniform time
//! between two bounds while a scenario's think time may be any
//! [`scalebench_core::dist::DurationDist`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use goose::GooseAttack;
use goose::config::GooseConfiguration;
use goose::goose::{
    GooseMethod, GooseRequest, GooseUser, Scenario, Transaction, TransactionResult,
};
use live::collect::Outcome;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use scalebench_core::Plan;
use scalebench_core::dist::Sampler;
use scalebench_core::users::Users;

use crate::outcome::classify;
use crate::session::{Msg, Phase, Session};
use crate::{Endpoint, UsersError};

/// How long a user that has nothing more to send waits before Goose looks again whether to
/// stop it (Goose checks between transactions).
const IDLE: Duration = Duration::from_millis(20);

/// What every user of the run shares.
struct Shared {
    session: Arc<Session>,
    /// What each class sends: the endpoint's path and `{"class": name}` (`{}` when the plan has
    /// no classes), refined by the class's `[traffic.class.request]`.
    requests: Vec<ClassRequest>,
    /// Requests started so far, for `{{seq}}` in body templates.
    seq: std::sync::atomic::AtomicU64,
    /// Cumulative class weights ending at 1 (empty for a single class).
    cdf: Vec<f64>,
    think: Sampler,
    seed: u64,
}

/// What one request class sends: the endpoint's request refined by the class's
/// `[traffic.class.request]` (method, path, headers with `${VAR}` from the environment, body
/// template).
struct ClassRequest {
    target: live::Target,
    method: GooseMethod,
    /// Path and query, relative to Goose's host.
    path: String,
}

impl ClassRequest {
    fn new(
        endpoint: &Endpoint,
        class: &str,
        body: &str,
        spec: Option<&scalebench_core::template::RequestSpec>,
    ) -> Result<ClassRequest, UsersError> {
        let url = format!("{}{}", endpoint.host.trim_end_matches('/'), endpoint.path);
        let bad = |e: live::TargetError| UsersError::Request {
            class: class.to_string(),
            why: e.to_string(),
        };
        let base = live::Target::new(
            &url,
            None,
            &[],
            Some(bytes::Bytes::from(body.to_string())),
            |_| None,
        )
        .map_err(bad)?;
        let target = match spec {
            Some(spec) => base
                .for_class(spec, |v| std::env::var(v).ok())
                .map_err(bad)?,
            None => base,
        };
        let method = match target.method.as_str() {
            "GET" => GooseMethod::Get,
            "POST" => GooseMethod::Post,
            "PUT" => GooseMethod::Put,
            "PATCH" => GooseMethod::Patch,
            "DELETE" => GooseMethod::Delete,
            "HEAD" => GooseMethod::Head,
            other => {
                return Err(UsersError::Request {
                    class: class.to_string(),
                    why: format!("Goose cannot send the method {other}"),
                });
            }
        };
        let path = target
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(ClassRequest {
            target,
            method,
            path,
        })
    }
}

/// One user's random stream (Goose session data).
#[derive(Clone)]
struct UserRng(Pcg64Mcg);

/// The attack for `plan`'s users against `endpoint`.
pub(crate) fn build(
    plan: &Plan,
    users: &Users,
    endpoint: &Endpoint,
    session: Arc<Session>,
) -> Result<GooseAttack, UsersError> {
    let classes = &plan.traffic.classes;
    let requests = if classes.is_empty() {
        vec![ClassRequest::new(endpoint, "default", "{}", None)?]
    } else {
        classes
            .iter()
            .map(|c| {
                let body = serde_json::json!({ "class": c.name }).to_string();
                ClassRequest::new(endpoint, &c.name, &body, c.request.as_ref())
            })
            .collect::<Result<_, _>>()?
    };
    let cdf = plan.traffic.class_cdf();
    let config = configuration(users, endpoint, &session);
    let shared = Arc::new(Shared {
        session,
        requests,
        seq: std::sync::atomic::AtomicU64::new(0),
        cdf,
        think: users.think.sampler(),
        seed: plan.seed,
    });
    let step: goose::goose::TransactionFunction = Arc::new(move |user| {
        let shared = Arc::clone(&shared);
        Box::pin(async move { step(user, &shared).await })
            as Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>>
    });
    let scenario = Scenario::new("scalebench-users")
        .register_transaction(Transaction::new(step).set_name("request"));
    Ok(GooseAttack::initialize_with_config(config)
        .map_err(UsersError::goose)?
        .register_scenario(scenario))
}

/// Goose's settings: `count` users started over the ramp, quiet, no controllers, no files,
/// no metrics of its own (every request is recorded into the Run instead), a client timeout
/// just past the plan's (the step enforces the plan's exactly) and a run time past the
/// scenario's end as a backstop (the collector stops Goose at the end).
fn configuration(users: &Users, endpoint: &Endpoint, session: &Session) -> GooseConfiguration {
    let mut c = GooseConfiguration::default();
    c.host = Some(endpoint.host.clone());
    c.users = Some(users.count as usize);
    let ramp_s = session.real_secs(users.ramp.as_secs_f64());
    let rate = if ramp_s > 0.0 {
        f64::from(users.count) / ramp_s
    } else {
        // All at once: every user within a millisecond.
        f64::from(users.count) * 1000.0
    };
    c.increase_rate = Some(format!("{rate}"));
    let run_s = session.real_secs(session.end_ns as f64 / 1e9) - ramp_s;
    c.run_time = Some(format!("{}s", run_s.ceil().max(0.0) as u64 + 10));
    c.timeout = Some(format!("{:.3}", session.timeout.as_secs_f64() + 1.0));
    c.quiet = 1;
    c.no_print_metrics = true;
    c.no_metrics = true;
    c.no_telnet = true;
    c
}

/// One closed-loop step: a request of a drawn class, its whole answer, then the think time.
async fn step(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let s = &shared.session;
    if s.phase() != Phase::Running || s.now_ns() >= s.end_ns {
        tokio::time::sleep(IDLE).await;
        return Ok(());
    }
    let (class, think) = draw(user, shared);
    let id = s.next_id();
    let sent_ns = s.now_ns();
    s.send(Msg::Sent { id, class, sent_ns });
    let mut phase = s.watch();
    let deadline = tokio::time::Instant::now() + s.timeout;
    let request = tokio::time::timeout_at(deadline, send(user, shared, class));
    let ended = tokio::select! {
        outcome = request => Some(outcome.unwrap_or(Outcome::Timeout)),
        _ = phase.wait_for(|p| *p >= Phase::Cut) => None,
    };
    let now = s.now_ns();
    match ended {
        Some(outcome) => s.send(Msg::Done {
            id,
            class,
            sent_ns,
            done_ns: now,
            outcome,
        }),
        None => s.send(Msg::Cancelled {
            id,
            class,
            sent_ns,
            at_ns: now,
        }),
    }
    if think > Duration::ZERO {
        tokio::select! {
            _ = tokio::time::sleep(think) => {}
            _ = phase.wait_for(|p| *p >= Phase::Stopping) => {}
        }
    }
    Ok(())
}

/// The class of the next request and the (real) think time after it, from the user's stream.
fn draw(user: &mut GooseUser, shared: &Shared) -> (u16, Duration) {
    if user.get_session_data::<UserRng>().is_none() {
        let index = user.weighted_users_index as u64;
        let seed = shared.seed ^ 0x5851_f42d_4c95_7f2d ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        user.set_session_data(UserRng(Pcg64Mcg::seed_from_u64(seed)));
    }
    let Some(UserRng(rng)) = user.get_session_data_mut::<UserRng>() else {
        return (0, Duration::ZERO);
    };
    let class = if shared.cdf.is_empty() {
        0
    } else {
        let u: f64 = rng.random();
        shared
            .cdf
            .iter()
            .position(|&c| u < c)
            .unwrap_or(shared.cdf.len() - 1) as u16
    };
    let think_s = shared.think.sample_secs(rng);
    let real = shared.session.real_secs(think_s);
    (class, Duration::from_secs_f64(real.max(0.0)))
}

/// POSTs one request of `class` through Goose and reads its answer to the end.
async fn send(user: &mut GooseUser, shared: &Shared, class: u16) -> Outcome {
    let name = &shared.session.classes[class as usize];
    let Some(r) = shared.requests.get(class as usize) else {
        return Outcome::Io;
    };
    let Ok(mut builder) = user.get_request_builder(&r.method, &r.path) else {
        return Outcome::Io;
    };
    for (k, v) in &r.target.headers {
        builder = builder.header(k.as_str(), v.as_bytes());
    }
    let seq = shared
        .seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = match &r.target.template {
        Some(t) => {
            let mut out = String::new();
            t.render(shared.seed, seq, name, &mut out);
            out
        }
        None => String::from_utf8_lossy(&r.target.body).into_owned(),
    };
    let builder = builder.body(body);
    let request = GooseRequest::builder()
        .method(r.method)
        .path(r.path.as_str())
        .name(name.as_str())
        .set_request_builder(builder)
        .build();
    let goose = match user.request(request).await {
        Ok(goose) => goose,
        Err(_) => return Outcome::Io,
    };
    match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => Outcome::Status(status),
                Err(e) => classify(e.is_timeout(), e.is_connect(), &e),
            }
        }
        Err(e) => classify(e.is_timeout(), e.is_connect(), &e),
    }
}
