//! The OpenAI-compatible routes, for a service with a token model (`[service.llm]`):
//! `POST /v1/completions` and `POST /v1/chat/completions`, streamed as server-sent events at
//! the model's pace (a chunk per token, as the model's steps end on the real clock) or
//! answered whole, and `GET /v1/models`. The prompt's tokens are counted with the testbed's
//! encoding; the output is `max_tokens` long (`max_completion_tokens` for chat), exactly, as
//! vLLM's `ignore_eos` gives, or a draw from the scenario's `[traffic.tokens]` when the request
//! names no length.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming};
use openai::{Api, Encoding, ResponseWriter};
use scalebench_core::llm::{MAX_TOKENS, Tokens};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::bed::{LlmReq, Reply, TOKEN_TEXT};
use crate::http::{Answer, dropped_message, dropped_status, read_body, reply};
use crate::shared::Shared;

/// The model name the testbed answers as, when a request names none.
pub(crate) const MODEL: &str = "scalebench-testbed";

/// The body of a streamed answer: the events the model's host writes as tokens come. Holding
/// the answer's receiver keeps the request wanted while the client reads; a client that hangs
/// up drops it.
pub(crate) struct EventStream {
    events: mpsc::UnboundedReceiver<Bytes>,
    _reply: oneshot::Receiver<Reply>,
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.events
            .poll_recv(cx)
            .map(|event| event.map(|b| Ok(Frame::data(b))))
    }
}

/// What an OpenAI request asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ask {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u32,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

/// Reads an OpenAI request body of `api`; the error says what was expected.
pub(crate) fn parse(api: Api, body: &[u8], encoding: Encoding) -> Result<Ask, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not JSON ({e}): expected an OpenAI request to {}",
            api.path()
        )
    })?;
    if !v.is_object() {
        return Err(format!(
            "expected a JSON object, the body of a request to {}",
            api.path()
        ));
    }
    let model = match v.get("model") {
        None | Some(Value::Null) => MODEL.to_string(),
        Some(Value::String(m)) => m.clone(),
        Some(other) => return Err(format!("\"model\" must be a string, found {other}")),
    };
    let prompt_tokens = match api {
        Api::Completions => completion_prompt(v.get("prompt"), encoding)?,
        Api::Chat => chat_prompt(v.get("messages"), encoding)?,
    };
    let mut max_tokens = None;
    for key in ["max_tokens", "max_completion_tokens"] {
        match v.get(key) {
            None | Some(Value::Null) => {}
            Some(n) => match n.as_u64() {
                Some(n) if (1..=u64::from(MAX_TOKENS)).contains(&n) => {
                    max_tokens = Some(n as u32);
                }
                _ => {
                    return Err(format!(
                        "\"{key}\" must be a whole number of tokens from 1 to {MAX_TOKENS}, found {n}"
                    ));
                }
            },
        }
    }
    let flag = |v: Option<&Value>, what: &str| match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("\"{what}\" must be true or false, found {other}")),
    };
    let stream = flag(v.get("stream"), "stream")?;
    let include_usage = flag(
        v.get("stream_options").and_then(|o| o.get("include_usage")),
        "stream_options.include_usage",
    )?;
    Ok(Ask {
        model,
        prompt_tokens,
        max_tokens,
        stream,
        include_usage,
    })
}

fn tokens_of(n: usize) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_TOKENS)
        .ok_or_else(|| format!("the prompt has {n} tokens, more than {MAX_TOKENS}"))
}

/// `prompt`: a string, an array of strings (counted together), or token ids.
fn completion_prompt(p: Option<&Value>, encoding: Encoding) -> Result<u32, String> {
    const EXPECTED: &str =
        "expected \"prompt\": a string, an array of strings or an array of token ids";
    match p {
        Some(Value::String(s)) => tokens_of(encoding.count(s)),
        Some(Value::Array(items)) if items.iter().all(Value::is_u64) => tokens_of(items.len()),
        Some(Value::Array(items)) => {
            let mut n = 0;
            for it in items {
                match it {
                    Value::String(s) => n += encoding.count(s),
                    other => return Err(format!("{EXPECTED}, found an item {other}")),
                }
            }
            tokens_of(n)
        }
        None => Err(format!("{EXPECTED}; it is missing")),
        Some(other) => Err(format!("{EXPECTED}, found {other}")),
    }
}

/// `messages`: their text contents, counted together (a server's chat template adds a few
/// tokens a message, which the testbed does not).
fn chat_prompt(m: Option<&Value>, encoding: Encoding) -> Result<u32, String> {
    const EXPECTED: &str =
        "expected \"messages\": an array of {\"role\": ..., \"content\": a string or text parts}";
    let Some(Value::Array(messages)) = m else {
        return Err(format!("{EXPECTED}, found {}", m.unwrap_or(&Value::Null)));
    };
    let mut n = 0;
    for msg in messages {
        match msg.get("content") {
            Some(Value::String(s)) => n += encoding.count(s),
            Some(Value::Array(parts)) => {
                for part in parts {
                    if let Some(Value::String(t)) = part.get("text") {
                        n += encoding.count(t);
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(other) => return Err(format!("{EXPECTED}, found a content {other}")),
        }
    }
    tokens_of(n)
}

/// An error in OpenAI's shape.
fn openai_error(status: StatusCode, message: &str) -> Answer {
    let kind = if status == StatusCode::BAD_REQUEST {
        "BadRequestError"
    } else {
        "ServiceUnavailableError"
    };
    reply(
        status,
        json!({"error": {"message": message, "type": kind, "code": status.as_u16()}}),
    )
    .map(Either::Left)
}

/// Numbers the answers' ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Serves one completion: its tokens through the model, streamed or whole.
pub(crate) async fn complete(req: Request<Incoming>, shared: &Shared, api: Api) -> Answer {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp.map(Either::Left),
    };
    let ask = match parse(api, &body, shared.encoding) {
        Ok(a) => a,
        Err(msg) => return openai_error(StatusCode::BAD_REQUEST, &msg),
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let id = match api {
        Api::Chat => format!("chatcmpl-{id}"),
        Api::Completions => format!("cmpl-{id}"),
    };
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let writer = ResponseWriter::new(api, id, ask.model.clone(), created);
    // The bed is locked only to admit the request (never across an await).
    let (stream, events) = if ask.stream {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let admitted = {
        let mut bed = shared.now();
        if bed.serves_tokens() {
            let tokens = Tokens {
                prompt: ask.prompt_tokens,
                output: ask.max_tokens.unwrap_or_else(|| bed.default_output()),
            };
            let llm = LlmReq::new(tokens, writer.clone(), stream, ask.include_usage);
            Some((tokens, bed.admit_tokens(llm)))
        } else {
            None
        }
    };
    let Some((tokens, mut answer)) = admitted else {
        return openai_error(
            StatusCode::NOT_FOUND,
            "this testbed's service has no token model: give its scenario [service.llm] and [traffic.tokens]",
        );
    };
    let Some(events) = events else {
        return match answer.await {
            Ok(Reply::Served { .. }) => {
                let text = TOKEN_TEXT.repeat(tokens.output as usize);
                let body = writer.body(&text, "length", tokens.prompt, tokens.output);
                let mut r = Response::new(Either::Left(Full::new(Bytes::from(body))));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            Ok(Reply::Dropped(why)) => openai_error(dropped_status(why), dropped_message(why)),
            Err(_) => openai_error(StatusCode::SERVICE_UNAVAILABLE, "the testbed is stopping"),
        };
    };
    // Refused at once (the queue is full): answered with its status, not a stream.
    if let Ok(Reply::Dropped(why)) = answer.try_recv() {
        return openai_error(dropped_status(why), dropped_message(why));
    }
    let mut r = Response::new(Either::Right(EventStream {
        events,
        _reply: answer,
    }));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /v1/models`: the one model the testbed serves.
pub(crate) fn models(_shared: &Shared) -> crate::http::Resp {
    reply(
        StatusCode::OK,
        json!({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "scalebench"}]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_as_openai_sends_them_and_bad_ones_say_what_was_expected() {
        let enc = Encoding::Cl100kBase;
        let a = parse(
            Api::Chat,
            br#"{"model":"m","messages":[{"role":"user","content":"hello world"}],"max_completion_tokens":7,"stream":true,"stream_options":{"include_usage":true}}"#,
            enc,
        )
        .expect("chat");
        assert_eq!(
            a,
            Ask {
                model: "m".into(),
                prompt_tokens: 2,
                max_tokens: Some(7),
                stream: true,
                include_usage: true,
            }
        );
        let a = parse(Api::Completions, br#"{"prompt":[1,2,3,4]}"#, enc).expect("ids");
        assert_eq!((a.prompt_tokens, a.max_tokens, a.stream), (4, None, false));
        assert_eq!(a.model, MODEL);
        let a = parse(
            Api::Completions,
            br#"{"prompt":["hello"," world"],"max_tokens":3}"#,
            enc,
        )
        .expect("strings");
        assert_eq!((a.prompt_tokens, a.max_tokens), (2, Some(3)));
        for (api, body, says) in [
            (Api::Completions, "nope", "not JSON"),
            (Api::Completions, "[1]", "a JSON object"),
            (Api::Completions, "{}", "it is missing"),
            (
                Api::Completions,
                r#"{"prompt":{"a":1}}"#,
                "expected \"prompt\"",
            ),
            (
                Api::Completions,
                r#"{"prompt":"x","max_tokens":0}"#,
                "from 1 to",
            ),
            (
                Api::Completions,
                r#"{"prompt":"x","stream":"yes"}"#,
                "true or false",
            ),
            (Api::Chat, r#"{"messages":"hi"}"#, "expected \"messages\""),
            (
                Api::Chat,
                r#"{"messages":[{"content":3}]}"#,
                "found a content 3",
            ),
        ] {
            let e = parse(api, body.as_bytes(), enc).expect_err(body);
            assert!(e.contains(says), "{body}: {e}");
        }
    }
}
