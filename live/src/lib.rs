//! The live load engine: a scenario's arrivals sent over real HTTP at their scheduled instants,
//! open loop, with every latency measured from the *intended* send time, so a server that stalls
//! cannot hide its stall behind a client that waited for it (coordinated omission, as wrk2
//! showed).
//!
//! - [`target`] describes what is sent: URL (http or https), method, headers (with `${VAR}`
//!   read from the environment, never written to a report) and body; [`tls`] how an https
//!   server is trusted.
//! - [`engine`] runs it on shards: threads with a single-threaded tokio runtime each, which
//!   lease the schedule about a millisecond at a time and send it on their own kept-alive
//!   connections (a lean HTTP/1.1 client, or hyper's HTTP/2 client), with a per-request
//!   deadline, a bound on requests in flight (reaching it counts a request as not sent, never
//!   delays it), and the classification of every outcome. Each shard paces itself: it sleeps
//!   on the timer until shortly before a due instant and spins for the rest, polling its
//!   sockets every 20 µs, so the schedule holds to microseconds. How late each request
//!   actually went out (the schedule lag) is recorded and reported.
//!   With `[traffic.openai]` every request is an OpenAI-compatible completion whose answer
//!   is read as it comes: each read's bytes, de-chunked, go to `openai`'s stream decoder
//!   stamped with the engine's clock at that read.
//! - [`collect`] turns outcomes into the same [`scalebench_core::run::SetupRun`] the simulator
//!   produces, window by window, so reports, gates and comparisons read both alike (with an
//!   OpenAI endpoint's TTFT, inter-token gaps, TPOT and tokens, from the intended send time).
//! - [`calibrate`] finds a target's sustainable throughput with a stepped ramp of steady load.
//! - [`observe`] fills each window's service side (replicas, queue, nodes, cost) from an
//!   observer, such as a Prometheus `/metrics` endpoint.
//! - [`promql`] fills it after the run from a Prometheus server's `query_range` instead.

mod answer;
pub mod calibrate;
pub mod collect;
pub mod engine;
mod h1;
mod hyper1;
pub mod observe;
mod pace;
pub mod promql;
mod request;
mod schedule;
mod shard;
pub mod steady;
pub mod target;
pub mod tls;

pub use engine::{LoadConfig, LoadError, Progress, run, run_observed};
#[doc(hidden)]
pub use h1::H1Client;
pub use observe::{Observed, Observer, PrometheusObserver};
pub use steady::{Steady, SteadyError};
pub use target::{Target, TargetError};
pub use tls::TlsOptions;
