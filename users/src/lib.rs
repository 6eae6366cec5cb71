//! Closed-loop virtual users through Goose. A scenario with `executor = "users"` describes a
//! fixed population of users (`[traffic.users]`: how many, their think time, the ramp over
//! which they start); [`run_users`] runs them as a [`goose::GooseAttack`] against an endpoint,
//! and [`run_attack`] runs a Goose attack you built yourself. Either way every request lands in
//! the same [`scalebench_core::run::SetupRun`] the open-loop engine and the simulator produce (through
//! [`live::collect::Collector`]), so it gets the same timelines, faults, score and reports.
//!
//! - Requests are recorded as they happen: scalebench's own users send each request's start
//!   and end to the collector thread; a user-provided attack's transactions call [`record`]
//!   with each response (see [`record`] for why that is the faithful mechanism).
//! - A closed-loop request is intended when it is sent, so its latency is its response time,
//!   read to the end of the body; a run is interrupted with `cancel`, keeping what was
//!   measured.
//! - TLS: one crypto provider, aws-lc-rs, for the whole process ([`install_crypto_provider`]).
//! - Ctrl-C: Goose would replace the process's SIGINT handler; [`claim_ctrl_c`] keeps it.
//!
//! Goose keeps process-wide state (its killswitch, its Ctrl-C handler, its logger), so one
//! attack runs at a time per process: a second call waits for the first to end.

mod attack;
mod crypto;
mod outcome;
mod record;
mod run;
mod session;
mod signals;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use goose::GooseAttack;
use goose::config::{GooseDefault, GooseDefaultType};
use live::Observer;
use scalebench_core::Plan;
use scalebench_core::run::SetupRun;

pub use crypto::install_crypto_provider;
pub use goose;
pub use record::{record, record_as};
pub use run::GRACE;
pub use signals::{CtrlC, claim_ctrl_c, take_ctrl_c};

use session::Session;

/// How long an event may take to reach the collector thread for scalebench's own users (they
/// report each request as it starts and as it ends).
const USERS_MARGIN: Duration = Duration::from_millis(100);

/// The same for a user-provided attack, whose requests are reported when they end: a request
/// that takes longer than this counts its arrival in the window in which it ended.
const ATTACK_MARGIN: Duration = Duration::from_secs(1);

/// Why a users run could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The plan has no closed-loop users to run.
    #[error(
        "the scenario has no closed-loop users: set executor = \"users\" and a [traffic.users] table"
    )]
    NoUsers,
    /// The endpoint URL is not usable.
    #[error("bad URL {url:?}: {why}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The time scale is not usable here.
    #[error("{0}")]
    TimeScale(String),
    /// A request class's request cannot be sent.
    #[error("request class {class:?}: {why}")]
    Request {
        /// The class.
        class: String,
        /// What is wrong with its request.
        why: String,
    },
    /// The async runtime could not be built.
    #[error("cannot start the users' runtime")]
    Runtime(#[source] std::io::Error),
    /// The collector thread could not be spawned.
    #[error("cannot start the users' collector thread")]
    Thread(#[source] std::io::Error),
    /// Goose refused the attack or failed running it.
    #[error("the Goose attack failed: {0}")]
    Goose(String),
}

impl UsersError {
    fn goose(e: goose::GooseError) -> Self {
        UsersError::Goose(e.to_string())
    }
}

/// Where the users send their requests, and how fast the run goes.
#[derive(Debug, Clone)]
pub struct UsersConfig {
    /// The URL every request is POSTed to (`http://` or `https://`); for [`run_attack`], the
    /// Goose host (scheme and authority) used unless the attack sets its own.
    pub url: String,
    /// Scenario seconds per real second, for a testbed that runs faster than real time: think
    /// times, the ramp, the timeout and the run shrink by it, measured times grow by it, so the
    /// Run is in scenario time. 1 (real time) by default; [`run_attack`] takes only 1.
    pub time_scale: f64,
    /// Worker threads of the runtime Goose and its users run on.
    pub workers: usize,
}

impl UsersConfig {
    /// Requests to `url`, in real time, one worker thread per core.
    pub fn new(url: &str) -> Self {
        UsersConfig {
            url: url.to_string(),
            time_scale: 1.0,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// The same, `time_scale` times faster than scenario time.
    pub fn time_scale(mut self, time_scale: f64) -> Self {
        self.time_scale = time_scale;
        self
    }
}

/// Goose's host and the path requests go to.
#[derive(Debug, Clone)]
struct Endpoint {
    host: String,
    path: String,
}

/// Runs the plan's closed-loop users (`[traffic.users]`) against `url` for the plan's
/// duration: each user sends a request of a class drawn by weight (a POST of `{"class": name}`,
/// or `{}` without classes, unless the class's `[traffic.class.request]` says otherwise),
/// reads the whole answer, thinks, and sends again. The Run is named `name`;
/// `observer` gives each window's service side. When `cancel` is set, no request is sent any
/// more, those in flight get [`GRACE`], and the Run holds what was measured until then
/// (`interrupted`).
pub fn run_users(
    plan: &Plan,
    url: &str,
    name: &str,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<SetupRun, UsersError> {
    run_users_with(plan, &UsersConfig::new(url), name, cancel, observer)
}

/// [`run_users`] with a time scale and runtime settings.
#[tracing::instrument(skip_all, fields(setup = name, url = %config.url), err)]
pub fn run_users_with(
    plan: &Plan,
    config: &UsersConfig,
    name: &str,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<SetupRun, UsersError> {
    let users = plan.traffic.closed_loop().ok_or(UsersError::NoUsers)?;
    if !(config.time_scale > 0.0 && config.time_scale.is_finite()) {
        return Err(UsersError::TimeScale(format!(
            "the time scale must be above zero, found {}",
            config.time_scale
        )));
    }
    let endpoint = Endpoint::parse(&config.url)?;
    let _one = run::one_at_a_time();
    let (session, rx) = Session::new(plan, config.time_scale);
    let session = Arc::new(session);
    let attack = attack::build(plan, users, &endpoint, Arc::clone(&session))?;
    tracing::info!(users = users.count, "starting closed-loop users");
    run::drive(
        attack,
        plan,
        config,
        &session,
        rx,
        name,
        cancel,
        observer,
        USERS_MARGIN,
    )
}

/// Runs a Goose attack you built (with [`GooseAttack::initialize_with_config`] and your own
/// scenarios) for the plan's duration, recording into the Run every request its transactions
/// pass to [`record`]. The plan gives the request classes, the timeout, the SLO and the
/// windows; where the attack does not set them, Goose's users, ramp and host come from the
/// plan's `[traffic.users]` and `config.url`, and Goose runs quietly, without its telnet
/// controller. The attack is stopped at the plan's end, or when `cancel` is set. Only real
/// time (`time_scale` 1): the attack's own waits are not scaled.
#[tracing::instrument(skip_all, fields(setup = name), err)]
pub fn run_attack(
    attack: GooseAttack,
    plan: &Plan,
    config: &UsersConfig,
    name: &str,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<SetupRun, UsersError> {
    if config.time_scale != 1.0 {
        return Err(UsersError::TimeScale(format!(
            "a user-provided Goose attack runs in real time (time scale 1), found {}",
            config.time_scale
        )));
    }
    let endpoint = (!config.url.is_empty())
        .then(|| Endpoint::parse(&config.url))
        .transpose()?;
    let _one = run::one_at_a_time();
    let (session, rx) = Session::new(plan, 1.0);
    let session = Arc::new(session);
    let attack =
        with_defaults(attack, plan, endpoint.as_ref(), &session).map_err(UsersError::goose)?;
    let _active = record::activate(Arc::clone(&session));
    let run = run::drive(
        attack,
        plan,
        config,
        &session,
        rx,
        name,
        cancel,
        observer,
        ATTACK_MARGIN,
    )?;
    if run.requests().scheduled == 0 {
        tracing::warn!(
            "no request of the Goose attack was recorded: call users::record(user, &goose) after each request in your transactions"
        );
    }
    Ok(run)
}

/// The plan's settings as Goose defaults: they apply where the attack's configuration leaves
/// an option unset.
fn with_defaults(
    attack: GooseAttack,
    plan: &Plan,
    endpoint: Option<&Endpoint>,
    session: &Session,
) -> Result<GooseAttack, goose::GooseError> {
    let mut a = attack;
    if let Some(e) = endpoint {
        a = *a.set_default(GooseDefault::Host, e.host.as_str())?;
    }
    let mut ramp_s = 0.0;
    if let Some(u) = plan.traffic.closed_loop() {
        ramp_s = u.ramp.as_secs_f64();
        let rate = if ramp_s > 0.0 {
            f64::from(u.count) / ramp_s
        } else {
            f64::from(u.count) * 1000.0
        };
        a = *a.set_default(GooseDefault::Users, u.count as usize)?;
        a = *a.set_default(GooseDefault::IncreaseRate, format!("{rate}").as_str())?;
    }
    // A backstop: the collector stops the attack at the plan's end.
    let run_s = (plan.duration.as_secs_f64() - ramp_s).ceil().max(0.0) as usize + 10;
    a = *a.set_default(GooseDefault::RunTime, run_s)?;
    let timeout = format!("{:.3}", session.timeout.as_secs_f64());
    a = *a.set_default(GooseDefault::Timeout, timeout.as_str())?;
    a = *a.set_default(GooseDefault::NoTelnet, true)?;
    a = *a.set_default(GooseDefault::NoPrintMetrics, true)?;
    a = *a.set_default(GooseDefault::Quiet, 1usize)?;
    Ok(a)
}
