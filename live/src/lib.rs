//! The live load engine: a scenario's arrivals sent over real HTTP at their scheduled instants,
//! open loop, with every latency measured from the *intended* send time, so a server that stalls
//! cannot hide its stall behind a client that waited for it (coordinated omission, as wrk2
//! showed).
//!
//! - [`pacer`] holds the schedule: a dedicated thread sleeps until shortly before each due
//!   instant and spins the rest of the way, then hands the request to the tokio runtime. How
//!   late each request actually went out (the schedule lag) is recorded and reported.
//! - [`target`] describes what is sent: URL, method, headers (with `${VAR}` read from the
//!   environment, never written to a report) and body.
//! - [`engine`] runs it: a multi-threaded runtime, a keep-alive connection pool (HTTP/1.1, or
//!   HTTP/2 with prior knowledge), a per-request deadline, a bound on requests in flight
//!   (reaching it counts a request as not sent, never delays it), and the classification of
//!   every outcome.
//! - [`collect`] turns outcomes into the same [`harness::run::SetupRun`] the simulator
//!   produces, window by window, so reports, gates and comparisons read both alike.
//! - [`observe`] fills each window's service side (replicas, queue, nodes, cost) from an
//!   observer, such as a Prometheus `/metrics` endpoint.

pub mod collect;
pub mod engine;
pub mod observe;
pub mod pacer;
pub mod steady;
pub mod target;

pub use engine::{LoadConfig, LoadError, Progress, run, run_observed};
pub use observe::{Observed, Observer, PrometheusObserver};
pub use steady::{Steady, SteadyError};
pub use target::{Target, TargetError};
