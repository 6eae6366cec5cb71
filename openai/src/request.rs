//! What to send: the two OpenAI-compatible APIs, the request settings of a scenario's
//! `[traffic.openai]` table, and the JSON body they make for one prompt.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::encoding::Encoding;

/// Which OpenAI-compatible API a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `POST /v1/completions`: the prompt in `prompt`, the text in `choices[0].text`.
    Completions,
    /// `POST /v1/chat/completions`: the prompt as one user message, the text in
    /// `choices[0].delta.content` when streaming and `choices[0].message.content` when not.
    Chat,
}

impl Api {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Api::Completions => "/v1/completions",
            Api::Chat => "/v1/chat/completions",
        }
    }

    /// The `object` of this API's streamed chunks.
    pub fn chunk_object(self) -> &'static str {
        match self {
            Api::Completions => "text_completion",
            Api::Chat => "chat.completion.chunk",
        }
    }

    /// The `object` of this API's whole (non-streaming) response.
    pub fn response_object(self) -> &'static str {
        match self {
            Api::Completions => "text_completion",
            Api::Chat => "chat.completion",
        }
    }
}

/// The request settings of an OpenAI-compatible endpoint (a scenario's `[traffic.openai]`
/// table). Unknown keys are errors.
///
/// ```
/// let spec: openai::RequestSpec = serde_json::from_str(
///     r#"{"api": "chat", "model": "llama", "extra": {"top_p": 0.9}}"#,
/// ).unwrap();
/// assert!(spec.stream && spec.include_usage && spec.ignore_eos);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// `completions` or `chat`.
    pub api: Api,
    /// The `model` of every request.
    pub model: String,
    /// Ask for the answer as server-sent events (`stream`); default true. Without it there is
    /// no time to first token: the whole answer arrives at once.
    #[serde(default = "yes")]
    pub stream: bool,
    /// Ask for the usage chunk at the end of the stream
    /// (`stream_options.include_usage`); default true. Only sent when streaming.
    #[serde(default = "yes")]
    pub include_usage: bool,
    /// Send `ignore_eos: true`, vLLM's way (also SGLang's) to generate exactly `max_tokens`
    /// tokens; default true. Servers that do not know it ignore it (or, like OpenAI's own API,
    /// reject it: set it to false there), and their answers may stop early.
    #[serde(default = "yes")]
    pub ignore_eos: bool,
    /// `temperature`, when set; the server's default otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The tokenizer prompts are built for and answers counted with; default `cl100k_base`.
    #[serde(default)]
    pub encoding: Encoding,
    /// A JSON object merged into every body last: its keys replace the body's, objects merged
    /// key by key (`{stream_options = {continuous_usage_stats = true}}` keeps
    /// `include_usage`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}

impl RequestSpec {
    /// The request body (JSON) for `prompt`, asking for `max_tokens` output tokens.
    ///
    /// `model`, then `prompt` (completions) or `messages: [{role: user, content}]` (chat),
    /// `max_tokens` (both APIs: vLLM, SGLang and TGI read it for chat too), `stream`,
    /// `stream_options: {include_usage: true}` when streaming with `include_usage`,
    /// `ignore_eos: true` when set, `temperature` when set, then `extra` merged in.
    pub fn body(&self, prompt: &str, max_tokens: u32) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("model".into(), Value::from(self.model.as_str()));
        match self.api {
            Api::Completions => {
                body.insert("prompt".into(), Value::from(prompt));
            }
            Api::Chat => {
                body.insert(
                    "messages".into(),
                    json!([{"role": "user", "content": prompt}]),
                );
            }
        }
        body.insert("max_tokens".into(), Value::from(max_tokens));
        body.insert("stream".into(), Value::from(self.stream));
        if self.stream && self.include_usage {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if self.ignore_eos {
            body.insert("ignore_eos".into(), Value::from(true));
        }
        if let Some(t) = self.temperature {
            body.insert("temperature".into(), Value::from(t));
        }
        merge(&mut body, &self.extra);
        Value::Object(body).to_string().into_bytes()
    }
}

/// Merges `extra` into `into`: objects key by key, anything else replaced.
fn merge(into: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (key, value) in extra {
        match (into.get_mut(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}
