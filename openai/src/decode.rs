//! The answer, decoded: a streamed answer's SSE events (or a whole JSON body) into one
//! [`Completion`] with the instant each content chunk arrived.

use serde::Deserialize;
use serde_json::Value;
use serde_json::error::Category;
use thiserror::Error;

use crate::encoding::Encoding;
use crate::request::Api;
use crate::sse::{SseError, SseEvent, SseParser};

/// What one request's answer was: when its content arrived, how many tokens it had, how it
/// ended. All instants are the caller's `now_ns` clock.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// The instant of the first content chunk (`chunk_ns[0]`), if any.
    pub first_token_ns: Option<u64>,
    /// The instant of every content chunk, in order: the `now_ns` of the feed that completed
    /// its event. One per chunk, so it grows with the answer.
    pub chunk_ns: Vec<u64>,
    /// `usage.completion_tokens`, when the server sent usage.
    pub output_tokens: Option<u32>,
    /// The tokenizer's count of the concatenated content when an encoding was given, else the
    /// number of content chunks.
    pub counted_tokens: u32,
    /// `usage.prompt_tokens`, when the server sent usage.
    pub prompt_tokens: Option<u32>,
    /// Why the request failed, when it did: the server's own error (`server error: ...`) or
    /// an answer that could not be decoded. The first one is kept.
    pub error: Option<String>,
    /// The stream ended with `data: [DONE]` (a whole body: it was decoded); false for a
    /// stream cut short.
    pub done: bool,
    /// The last `finish_reason` the server gave (`length`, `stop`...).
    pub finish_reason: Option<String>,
    /// The instant the answer ended (given to [`StreamDecoder::finish`] or
    /// [`decode_body`]).
    pub end_ns: u64,
}

impl Completion {
    /// The output tokens: `usage.completion_tokens`, else the counted ones.
    pub fn tokens(&self) -> u32 {
        self.output_tokens.unwrap_or(self.counted_tokens)
    }

    /// Whether the request succeeded: no error, and the answer complete.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.done
    }
}

/// Decodes a streamed answer (`text/event-stream`) as its bytes arrive (sans-IO).
///
/// Each event's data is JSON, but `[DONE]`:
/// - a chunk whose content is not empty is a content chunk (chat: `choices[0].delta.content`,
///   and `delta.reasoning_content` or `delta.reasoning` of reasoning models, which are
///   generated tokens too; completions: `choices[0].text`). A role-only first chunk
///   (`delta: {role: assistant}`, `content: ""`) is not;
/// - `usage` (the `choices: []` chunk of `include_usage`, or every chunk's with vLLM's
///   `continuous_usage_stats`) gives the token counts; the last one wins;
/// - `finish_reason` is kept; choices other than index 0 are ignored;
/// - `{"error": {"message": ...}}` (or `{"error": "..."}`, or vLLM's older
///   `{"object": "error", "message": ...}`, or non-JSON data in an `event: error`) is a failed
///   request: its message is kept;
/// - data that is not JSON, or JSON that is not a chunk, is an error that says what was
///   expected; so is an event larger than the SSE parser's bound;
/// - `[DONE]` ends the stream; anything after it is ignored. A stream that ends without it
///   is not `done`.
///
/// A non-2xx answer or one that is not an event stream is a whole JSON body: use
/// [`decode_body`].
#[derive(Debug)]
pub struct StreamDecoder {
    parser: SseParser,
    state: State,
}

/// What the events said so far.
#[derive(Debug)]
struct State {
    api: Api,
    encoding: Option<Encoding>,
    /// The content, when it is to be counted with `encoding`.
    text: String,
    completion: Completion,
}

/// What the decoder could not accept.
#[derive(Debug, Error)]
enum DecodeError {
    #[error(transparent)]
    Sse(#[from] SseError),
    #[error("data {data:?} is not JSON: expected a JSON completion chunk or [DONE] ({reason})")]
    NotJson { data: String, reason: String },
    #[error(
        "data {data:?} is not an OpenAI completion chunk: expected a JSON object whose `choices`, `usage` and `error` have their types ({reason})"
    )]
    NotAChunk { data: String, reason: String },
    #[error("response body without choices: expected an OpenAI completion with `choices`")]
    NoChoices,
    #[error("server error: {0}")]
    Server(String),
}

impl DecodeError {
    fn of(data: &str, e: &serde_json::Error) -> DecodeError {
        let data = snippet(data);
        let reason = e.to_string();
        match e.classify() {
            Category::Data => DecodeError::NotAChunk { data, reason },
            Category::Syntax | Category::Eof | Category::Io => {
                DecodeError::NotJson { data, reason }
            }
        }
    }
}

/// At most 80 characters of `data`, for an error message.
fn snippet(data: &str) -> String {
    const MAX: usize = 80;
    match data.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &data[..end]),
        None => data.to_string(),
    }
}

impl StreamDecoder {
    /// A decoder of `api`'s streamed chunks; with an encoding, the content is kept and counted
    /// in it at the end.
    pub fn new(api: Api, encoding: Option<Encoding>) -> StreamDecoder {
        StreamDecoder {
            parser: SseParser::new(),
            state: State::new(api, encoding),
        }
    }

    /// Decodes the next `bytes` of the stream, which arrived at `now_ns`: a content chunk
    /// completed by them is stamped `now_ns`.
    pub fn feed(&mut self, bytes: &[u8], now_ns: u64) {
        for event in self.parser.feed(bytes) {
            match event {
                Ok(event) => self.state.event(&event, now_ns),
                Err(e) if !self.state.completion.done => self.state.fail(e.into()),
                Err(_) => {}
            }
        }
    }

    /// Whether a `[DONE]` has been seen (the caller may stop reading).
    pub fn done(&self) -> bool {
        self.state.completion.done
    }

    /// The answer, which ended at `end_ns`.
    pub fn finish(self, end_ns: u64) -> Completion {
        self.state.finish(end_ns)
    }
}

impl State {
    fn new(api: Api, encoding: Option<Encoding>) -> State {
        State {
            api,
            encoding,
            text: String::new(),
            completion: Completion::default(),
        }
    }

    fn fail(&mut self, e: DecodeError) {
        self.completion.error.get_or_insert_with(|| e.to_string());
    }

    fn event(&mut self, event: &SseEvent, now_ns: u64) {
        if self.completion.done {
            return;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            self.completion.done = true;
            return;
        }
        match serde_json::from_str::<Chunk>(data) {
            // An `event: error` whose data does not say it is one is one all the same.
            Ok(chunk) if event.event == "error" && chunk.server_error().is_none() => {
                self.fail(DecodeError::Server(snippet(data)));
            }
            Ok(chunk) => self.chunk(chunk, Choice::delta, now_ns),
            Err(_) if event.event == "error" => self.fail(DecodeError::Server(snippet(data))),
            Err(e) => self.fail(DecodeError::of(data, &e)),
        }
    }

    /// Takes one chunk in; `message` picks a chat choice's message (`delta` when streaming,
    /// `message` in a whole body).
    fn chunk(&mut self, chunk: Chunk, message: fn(&Choice) -> Option<&Message>, now_ns: u64) {
        if let Some(e) = chunk.server_error() {
            self.fail(DecodeError::Server(e));
        }
        if let Some(usage) = &chunk.usage {
            let c = &mut self.completion;
            c.output_tokens = usage.completion_tokens.map(saturate).or(c.output_tokens);
            c.prompt_tokens = usage.prompt_tokens.map(saturate).or(c.prompt_tokens);
        }
        let first = chunk
            .choices
            .iter()
            .flatten()
            .find(|c| c.index.unwrap_or(0) == 0);
        let Some(choice) = first else {
            return;
        };
        let mut content = false;
        let pieces: [Option<&str>; 3] = match self.api {
            Api::Completions => [choice.text.as_deref(), None, None],
            Api::Chat => match message(choice) {
                Some(m) => [
                    m.content.as_deref(),
                    m.reasoning_content.as_deref(),
                    m.reasoning.as_deref(),
                ],
                None => [None; 3],
            },
        };
        for piece in pieces.into_iter().flatten().filter(|p| !p.is_empty()) {
            content = true;
            if self.encoding.is_some() {
                self.text.push_str(piece);
            }
        }
        if content {
            let c = &mut self.completion;
            c.first_token_ns.get_or_insert(now_ns);
            c.chunk_ns.push(now_ns);
        }
        if let Some(reason) = &choice.finish_reason {
            self.completion.finish_reason = Some(reason.clone());
        }
    }

    fn finish(mut self, end_ns: u64) -> Completion {
        let c = &mut self.completion;
        c.counted_tokens = match self.encoding {
            Some(encoding) => saturate(encoding.count(&self.text) as u64),
            None => saturate(c.chunk_ns.len() as u64),
        };
        c.end_ns = end_ns;
        self.completion
    }
}

/// Decodes a whole (non-streaming) JSON response body of `api`, received at `now_ns`: its
/// content (chat: `choices[0].message.content`, and `reasoning_content` or `reasoning`;
/// completions: `choices[0].text`) is one content chunk at `now_ns`, and the answer ended
/// then. An error body (`{"error": ...}`) or a body that is not a completion is an error.
pub fn decode_body(api: Api, encoding: Option<Encoding>, body: &[u8], now_ns: u64) -> Completion {
    let mut state = State::new(api, encoding);
    match serde_json::from_slice::<Chunk>(body) {
        Ok(chunk) => {
            if chunk.choices.is_none() && chunk.server_error().is_none() {
                state.fail(DecodeError::NoChoices);
            }
            state.chunk(chunk, Choice::message, now_ns);
            state.completion.done = true;
        }
        Err(e) => {
            let text = String::from_utf8_lossy(body);
            state.fail(DecodeError::of(text.trim(), &e));
        }
    }
    state.finish(now_ns)
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A chunk (or a whole body) as OpenAI-compatible servers send it: what is not here is
/// ignored, what is here must have its type.
#[derive(Deserialize)]
#[serde(expecting = "an OpenAI completion chunk (a JSON object)")]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
    /// `error` in vLLM's older error responses.
    #[serde(default)]
    object: Option<Value>,
    /// The message of vLLM's older error responses.
    #[serde(default)]
    message: Option<Value>,
}

impl Chunk {
    /// The server's error message, if this chunk is an error.
    fn server_error(&self) -> Option<String> {
        if let Some(error) = &self.error {
            if error.is_null() {
                return None;
            }
            let message = match error {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(String::from),
                _ => None,
            };
            return Some(message.unwrap_or_else(|| snippet(&error.to_string())));
        }
        if self.object.as_ref().and_then(Value::as_str) == Some("error") {
            let message = self.message.as_ref().and_then(Value::as_str);
            return Some(message.unwrap_or("(no message)").to_string());
        }
        None
    }
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    delta: Option<Message>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

impl Choice {
    fn delta(&self) -> Option<&Message> {
        self.delta.as_ref()
    }

    fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}
