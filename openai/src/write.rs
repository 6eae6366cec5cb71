//! The server side, for the testbed: an answer's SSE events one call each, and whole
//! response bodies, in the JSON shapes of vLLM and OpenAI.

use serde::Serialize;

use crate::request::Api;

/// Writes one answer's events and bodies: the id, creation time and model every chunk
/// repeats are given once.
///
/// A streamed chat answer is `role`, `content`..., `finish`, then `usage` (when the request
/// asked for it) and `done`; a completions answer has no role chunk (vLLM and OpenAI send
/// none), the rest alike. Each event is `data: {json}\n\n`.
#[derive(Clone, Debug)]
pub struct ResponseWriter {
    api: Api,
    id: String,
    created: u64,
    model: String,
}

/// `data: [DONE]\n\n`, the stream's last event.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

impl ResponseWriter {
    /// A writer for one answer of `api`: `id` (`chatcmpl-...` or `cmpl-...` by convention),
    /// `model`, and `created` (Unix seconds).
    pub fn new(api: Api, id: impl Into<String>, model: impl Into<String>, created: u64) -> Self {
        ResponseWriter {
            api,
            id: id.into(),
            created,
            model: model.into(),
        }
    }

    /// The API answered.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The first chunk of a chat stream: `delta: {role: assistant, content: ""}`, no token.
    /// Empty for completions, whose streams have no role chunk.
    pub fn role(&self) -> Vec<u8> {
        match self.api {
            Api::Chat => self.event(
                Piece::Delta(DeltaOut {
                    role: Some("assistant"),
                    content: Some(""),
                }),
                None,
            ),
            Api::Completions => Vec::new(),
        }
    }

    /// A content chunk carrying `text` (chat: `delta.content`; completions: `text`).
    pub fn content(&self, text: &str) -> Vec<u8> {
        self.event(self.text(text), None)
    }

    /// The last chunk of the choice, with its `finish_reason` (`length`, `stop`) and no text.
    pub fn finish(&self, reason: &str) -> Vec<u8> {
        let piece = match self.api {
            Api::Chat => Piece::Delta(DeltaOut::default()),
            Api::Completions => Piece::Text(""),
        };
        self.event(piece, Some(reason))
    }

    /// The usage chunk of `stream_options.include_usage`: `choices: []` and `usage`.
    pub fn usage(&self, prompt_tokens: u32, completion_tokens: u32) -> Vec<u8> {
        sse(&ChunkOut {
            id: &self.id,
            object: self.api.chunk_object(),
            created: self.created,
            model: &self.model,
            choices: &[],
            usage: Some(UsageOut::new(prompt_tokens, completion_tokens)),
        })
    }

    /// `data: [DONE]\n\n` ([`DONE`]).
    pub fn done(&self) -> Vec<u8> {
        DONE.to_vec()
    }

    /// A mid-stream error event, `{"error": {"message", "type", "param": null, "code"}}` as
    /// vLLM sends when a request fails after its stream began (`kind` as
    /// `InternalServerError`, `code` an HTTP status).
    pub fn error(&self, message: &str, kind: &str, code: u16) -> Vec<u8> {
        sse(&ErrorOut {
            error: ErrorBody {
                message,
                kind,
                param: None,
                code,
            },
        })
    }

    /// A whole (non-streaming) response: `object` `chat.completion` with
    /// `message: {role: assistant, content: text}`, or `text_completion` with `text`; the
    /// `finish_reason`, and `usage`.
    pub fn body(
        &self,
        text: &str,
        finish_reason: &str,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Vec<u8> {
        let piece = match self.api {
            Api::Chat => Piece::Message(DeltaOut {
                role: Some("assistant"),
                content: Some(text),
            }),
            Api::Completions => Piece::Text(text),
        };
        json(&ChunkOut {
            id: &self.id,
            object: self.api.response_object(),
            created: self.created,
            model: &self.model,
            choices: &[ChoiceOut::new(piece, Some(finish_reason))],
            usage: Some(UsageOut::new(prompt_tokens, completion_tokens)),
        })
    }

    fn text<'a>(&self, text: &'a str) -> Piece<'a> {
        match self.api {
            Api::Chat => Piece::Delta(DeltaOut {
                role: None,
                content: Some(text),
            }),
            Api::Completions => Piece::Text(text),
        }
    }

    fn event(&self, piece: Piece<'_>, finish_reason: Option<&str>) -> Vec<u8> {
        sse(&ChunkOut {
            id: &self.id,
            object: self.api.chunk_object(),
            created: self.created,
            model: &self.model,
            choices: &[ChoiceOut::new(piece, finish_reason)],
            usage: None,
        })
    }
}

/// `value` as JSON. Serializing these plain structs into memory cannot fail.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// `value` as one SSE event.
fn sse<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json(value));
    out.extend_from_slice(b"\n\n");
    out
}

/// What a choice carries.
enum Piece<'a> {
    Text(&'a str),
    Delta(DeltaOut<'a>),
    Message(DeltaOut<'a>),
}

#[derive(Serialize)]
struct ChunkOut<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChoiceOut<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<DeltaOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<DeltaOut<'a>>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

impl<'a> ChoiceOut<'a> {
    fn new(piece: Piece<'a>, finish_reason: Option<&'a str>) -> ChoiceOut<'a> {
        let mut choice = ChoiceOut {
            index: 0,
            text: None,
            delta: None,
            message: None,
            logprobs: None,
            finish_reason,
        };
        match piece {
            Piece::Text(t) => choice.text = Some(t),
            Piece::Delta(d) => choice.delta = Some(d),
            Piece::Message(m) => choice.message = Some(m),
        }
        choice
    }
}

#[derive(Default, Serialize)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u64,
}

impl UsageOut {
    fn new(prompt_tokens: u32, completion_tokens: u32) -> UsageOut {
        UsageOut {
            prompt_tokens,
            completion_tokens,
            total_tokens: u64::from(prompt_tokens) + u64::from(completion_tokens),
        }
    }
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<()>,
    code: u16,
}
