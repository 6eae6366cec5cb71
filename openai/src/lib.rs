//! The OpenAI-compatible wire format, sans-IO, shared by both sides of scalebench: the live
//! load engine (the client) builds request bodies with it and decodes the streamed answer with
//! the instant each chunk arrived; the testbed (the server) writes its answers' chunks with it.
//! Bytes in, values out: no sockets, no runtime, time passed in by the caller.
//!
//! - What to send: [`RequestSpec`] (a scenario's `[traffic.openai]` table) and its
//!   [`RequestSpec::body`] for `/v1/completions` or `/v1/chat/completions` ([`Api`]).
//! - Prompts of an exact token length and token counts: [`Prompts`] in an [`Encoding`]
//!   (tiktoken's, compiled in: nothing is fetched at run time).
//! - The answer: [`SseParser`] (the event-stream rules, bounded), [`StreamDecoder`] and
//!   [`decode_body`] into a [`Completion`]; its figures, from the intended send time:
//!   [`TokenTimes`] (TTFT, ITL, TPOT, tokens per second).
//! - The server side: [`ResponseWriter`], one SSE event per call, and whole bodies.
//!
//! The definitions, with a worked example, are in `docs/llm.md`.

mod decode;
mod encoding;
mod prompt;
mod request;
mod sse;
mod times;
mod write;

pub use decode::{Completion, StreamDecoder, decode_body};
pub use encoding::Encoding;
pub use prompt::Prompts;
pub use request::{Api, RequestSpec};
pub use sse::{DEFAULT_MAX_EVENT, SseError, SseEvent, SseParser};
pub use times::TokenTimes;
pub use write::{DONE, ResponseWriter};
