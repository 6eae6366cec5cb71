//! Request traces replayed as a workload.
//!
//! A trace is read lazily from disk, one row at a time, so a 27-million-row trace is never held
//! in memory: sorted formats stream through one reusable row buffer, unsorted ones (Azure
//! Functions 2021) go through an external sort whose memory is bounded by its chunk size, and
//! Azure Functions 2019 is summed per minute in one pass (one number per minute). Requests come
//! out in time order through the replay's transforms: window (in trace time), speed (time
//! scale), rate scale (thin or copy requests, keeping the shape over time) and loop.
//!
//! Formats: Azure LLM inference 2023/2024, Azure Functions 2019 and 2021, BurstGPT, Mooncake
//! JSON lines and a generic CSV ([`Format`]). The reference, with worked examples and the
//! errors, is `docs/traces.md` in the repository.
//!
//! ```no_run
//! use traces::{Format, ReplaySpec};
//!
//! let mut spec = ReplaySpec::new("azure-llm-2023-conv.csv", Format::AzureLlm);
//! spec.speed = 2.0;
//! let summary = traces::scan(&spec)?; // validates every row, counts them
//! println!("{} requests over {:?}", summary.requests, summary.span);
//! for record in traces::open(&spec)? {
//!     let record = record?;
//!     println!("at {} ns: {:?} prompt tokens", record.t_ns, record.prompt_tokens);
//! }
//! # Ok::<(), traces::TraceError>(())
//! ```
//!
//! This crate depends on no other crate of the workspace: the scenario core turns its records
//! into arrivals.

mod error;
mod extsort;
mod jsonl;
mod lines;
mod minutes;
mod parse;
mod replay;
mod rows;
mod scale;
mod scan;
mod source;
mod spec;

pub use error::{ErrorKind, TraceError};
pub use replay::{Record, Replay};
pub use scan::Summary;
pub use spec::{
    CsvColumns, DEFAULT_SORT_CHUNK_ROWS, Format, Malformed, ReplaySpec, Spread, TimeUnit, Window,
};

/// Reads the whole trace once, checking every row, and sums it up: rows, requests, skipped rows,
/// first and last instants, span, which fields requests carry, mean rate, and what one pass of
/// the replay holds and lasts. For validating a scenario when it is loaded.
pub fn scan(spec: &ReplaySpec) -> Result<Summary, TraceError> {
    scan::scan(spec)
}

/// Opens a replay of `spec`: checks the options and the header, sorts an unsorted format (in
/// bounded memory) or sums Azure Functions 2019's minutes, and returns the iterator of requests.
pub fn open(spec: &ReplaySpec) -> Result<Replay, TraceError> {
    Replay::open(spec)
}
