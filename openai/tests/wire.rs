//! The JSON on the wire: request bodies, the `[traffic.openai]` table, the server side's
//! chunks and bodies, and the writer's output through the decoder.

use openai::{Api, Encoding, Prompts, RequestSpec, ResponseWriter, StreamDecoder, decode_body};
use serde_json::{Value, json};

fn spec(toml_text: &str) -> RequestSpec {
    match toml::from_str(toml_text) {
        Ok(spec) => spec,
        Err(e) => panic!("{toml_text}: {e}"),
    }
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

#[test]
fn defaults_of_the_table() {
    let s = spec("api = \"chat\"\nmodel = \"m\"");
    assert!(s.stream && s.include_usage && s.ignore_eos);
    assert_eq!(s.temperature, None);
    assert_eq!(s.encoding, Encoding::Cl100kBase);
    assert!(s.extra.is_empty());
}

#[test]
fn a_whole_temperature_is_a_number() {
    let s = spec("api = \"chat\"\nmodel = \"m\"\ntemperature = 1");
    assert_eq!(s.temperature, Some(1.0));
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    for bad in [
        "api = \"chat\"\nmodel = \"m\"\nstreaming = true",
        "api = \"responses\"\nmodel = \"m\"",
        "model = \"m\"",
        "api = \"chat\"\nmodel = \"m\"\nencoding = \"gpt2\"",
        "api = \"chat\"\nmodel = \"m\"\nextra = 5",
    ] {
        assert!(toml::from_str::<RequestSpec>(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_chat_body() {
    let s = spec("api = \"chat\"\nmodel = \"llama\"\ntemperature = 0.5");
    assert_eq!(
        parse(&s.body("hi there", 128)),
        json!({
            "model": "llama",
            "messages": [{"role": "user", "content": "hi there"}],
            "max_tokens": 128,
            "stream": true,
            "stream_options": {"include_usage": true},
            "ignore_eos": true,
            "temperature": 0.5,
        })
    );
}

#[test]
fn a_completions_body_without_streaming() {
    let s = spec(
        "api = \"completions\"\nmodel = \"m\"\nstream = false\nignore_eos = false\nencoding = \"o200k_base\"",
    );
    assert_eq!(
        parse(&s.body("once upon", 16)),
        json!({"model": "m", "prompt": "once upon", "max_tokens": 16, "stream": false})
    );
}

#[test]
fn without_usage_no_stream_options() {
    let s = spec("api = \"completions\"\nmodel = \"m\"\ninclude_usage = false");
    let body = parse(&s.body("x", 1));
    assert_eq!(body.get("stream_options"), None);
    assert_eq!(body["stream"], json!(true));
}

#[test]
fn extra_is_merged_last() {
    let s = spec(
        r#"
api = "chat"
model = "m"
[extra]
max_tokens = 7
top_p = 0.9
stream_options = { continuous_usage_stats = true }
chat_template_kwargs = { enable_thinking = false }
"#,
    );
    let body = parse(&s.body("x", 100));
    assert_eq!(body["max_tokens"], json!(7));
    assert_eq!(body["top_p"], json!(0.9));
    assert_eq!(
        body["stream_options"],
        json!({"include_usage": true, "continuous_usage_stats": true})
    );
    assert_eq!(
        body["chat_template_kwargs"],
        json!({"enable_thinking": false})
    );
}

#[test]
fn paths() {
    assert_eq!(Api::Chat.path(), "/v1/chat/completions");
    assert_eq!(Api::Completions.path(), "/v1/completions");
}

/// The data of each SSE event in `bytes`, as JSON.
fn events(bytes: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(bytes);
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.trim_start_matches("data: ")).unwrap_or(Value::Null))
        .collect()
}

#[test]
fn chat_chunks_have_openai_s_shapes() {
    let w = ResponseWriter::new(Api::Chat, "chatcmpl-1", "m", 1700000000);
    let head = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"});
    let with = |extra: Value| {
        let mut v = head.clone();
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    };
    let choice = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
    let mut all = Vec::new();
    for bytes in [
        w.role(),
        w.content("Hi"),
        w.finish("length"),
        w.usage(10, 2),
    ] {
        assert!(bytes.starts_with(b"data: ") && bytes.ends_with(b"\n\n"));
        all.extend(events(&bytes));
    }
    assert_eq!(
        all,
        [
            with(choice(
                json!({"role": "assistant", "content": ""}),
                Value::Null
            )),
            with(choice(json!({"content": "Hi"}), Value::Null)),
            with(choice(json!({}), json!("length"))),
            with(
                json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
            ),
        ]
    );
    assert_eq!(w.done(), b"data: [DONE]\n\n");
    assert_eq!(
        events(&w.error("boom", "InternalServerError", 500)),
        [
            json!({"error": {"message": "boom", "type": "InternalServerError", "param": null, "code": 500}})
        ]
    );
}

#[test]
fn completions_chunks_have_openai_s_shapes() {
    let w = ResponseWriter::new(Api::Completions, "cmpl-1", "m", 5);
    assert!(w.role().is_empty());
    assert_eq!(
        events(&w.content("Hi")),
        [
            json!({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "m",
            "choices": [{"index": 0, "text": "Hi", "logprobs": null, "finish_reason": null}]})
        ]
    );
    assert_eq!(
        events(&w.finish("stop"))[0]["choices"][0],
        json!({"index": 0, "text": "", "logprobs": null, "finish_reason": "stop"})
    );
}

#[test]
fn whole_bodies_have_openai_s_shapes() {
    let chat = ResponseWriter::new(Api::Chat, "chatcmpl-2", "m", 5);
    assert_eq!(
        parse(&chat.body("Hello", "length", 3, 1)),
        json!({"id": "chatcmpl-2", "object": "chat.completion", "created": 5, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
    );
    let completions = ResponseWriter::new(Api::Completions, "cmpl-2", "m", 5);
    assert_eq!(
        parse(&completions.body("Hello", "stop", 3, 1))["choices"],
        json!([{"index": 0, "text": "Hello", "logprobs": null, "finish_reason": "stop"}])
    );
}

#[test]
fn the_writer_s_stream_through_the_decoder() {
    let prompts = Prompts::new(Encoding::Cl100kBase);
    let text = prompts.prompt(40, 3);
    let pieces: Vec<&str> = text.split_inclusive(' ').collect();
    for api in [Api::Chat, Api::Completions] {
        for usage in [true, false] {
            let w = ResponseWriter::new(api, "x-1", "m", 1);
            let mut decoder = StreamDecoder::new(api, Some(Encoding::Cl100kBase));
            decoder.feed(&w.role(), 0);
            for (i, piece) in pieces.iter().enumerate() {
                decoder.feed(&w.content(piece), 10 + i as u64);
            }
            decoder.feed(&w.finish("length"), 100);
            if usage {
                decoder.feed(&w.usage(7, 40), 100);
            }
            decoder.feed(&w.done(), 101);
            let c = decoder.finish(102);
            let chunks: Vec<u64> = (10..10 + pieces.len() as u64).collect();
            assert_eq!(c.chunk_ns, chunks, "{api:?}");
            assert_eq!(c.first_token_ns, Some(10));
            assert_eq!(c.counted_tokens, 40, "{api:?}");
            assert_eq!(c.output_tokens, usage.then_some(40));
            assert_eq!(c.prompt_tokens, usage.then_some(7));
            assert_eq!(c.finish_reason.as_deref(), Some("length"));
            assert!(c.ok(), "{:?}", c.error);
            assert_eq!(c.end_ns, 102);
        }
    }
}

#[test]
fn the_writer_s_error_through_the_decoder() {
    let w = ResponseWriter::new(Api::Chat, "x-1", "m", 1);
    let mut decoder = StreamDecoder::new(Api::Chat, None);
    decoder.feed(&w.role(), 0);
    decoder.feed(&w.content("a"), 1);
    decoder.feed(
        &w.error("KV cache exhausted", "InternalServerError", 500),
        2,
    );
    decoder.feed(&w.done(), 3);
    let c = decoder.finish(4);
    assert_eq!(c.error.as_deref(), Some("server error: KV cache exhausted"));
    assert!(!c.ok());
    assert_eq!(c.chunk_ns, [1]);
}

#[test]
fn whole_bodies_through_the_decoder() {
    for api in [Api::Chat, Api::Completions] {
        let w = ResponseWriter::new(api, "x-1", "m", 1);
        let c = decode_body(
            api,
            Some(Encoding::Cl100kBase),
            &w.body("Hello world", "length", 3, 2),
            50,
        );
        assert!(c.ok(), "{:?}", c.error);
        assert_eq!(c.chunk_ns, [50]);
        assert_eq!(c.first_token_ns, Some(50));
        assert_eq!(
            (c.counted_tokens, c.output_tokens, c.prompt_tokens),
            (2, Some(2), Some(3))
        );
        assert_eq!(c.end_ns, 50);
        let c = decode_body(api, None, &w.body("Hello world", "length", 3, 2), 50);
        assert_eq!(c.counted_tokens, 1);
    }
    let reasoning = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"hmm"},"finish_reason":"length"}]}"#;
    let c = decode_body(Api::Chat, None, reasoning, 9);
    assert_eq!(c.chunk_ns, [9]);
}

#[test]
fn bad_bodies_say_what_was_expected() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "is not JSON: expected a JSON completion chunk"),
        (
            b"<html>502</html>",
            "is not JSON: expected a JSON completion chunk",
        ),
        (
            br#"{"choices": "x"}"#,
            "is not an OpenAI completion chunk: expected",
        ),
        (
            br#"{"id": "x"}"#,
            "without choices: expected an OpenAI completion with `choices`",
        ),
        (
            br#"{"error": {"message": "model not found", "code": 404}}"#,
            "server error: model not found",
        ),
    ];
    for (body, want) in cases {
        let c = decode_body(Api::Chat, None, body, 1);
        let error = c.error.clone().unwrap_or_default();
        assert!(
            error.contains(want),
            "{:?}: {error}",
            String::from_utf8_lossy(body)
        );
        assert!(!c.ok());
        assert!(c.chunk_ns.is_empty());
    }
}

/// The first fenced block of `lang` in docs/llm.md that contains `needle`.
fn docs_block(lang: &str, needle: &str) -> String {
    let docs = include_str!("../../docs/llm.md");
    let fence = format!("```{lang}\n");
    docs.split(&fence)
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .find(|block| block.contains(needle))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_docs_example_makes_the_docs_body() {
    let table: toml::Table = match toml::from_str(&docs_block("toml", "[traffic.openai]")) {
        Ok(t) => t,
        Err(e) => panic!("docs/llm.md's TOML: {e}"),
    };
    let openai = table
        .get("traffic")
        .and_then(|r| r.get("openai"))
        .cloned()
        .unwrap_or(toml::Value::Boolean(false));
    let spec: RequestSpec = match openai.try_into() {
        Ok(spec) => spec,
        Err(e) => panic!("docs/llm.md's [traffic.openai]: {e}"),
    };
    let body = spec.body(" alpha beta gamma", 128);
    assert_eq!(
        parse(&body),
        parse(docs_block("json", "\"max_tokens\":128").as_bytes())
    );
    assert_eq!(Encoding::Cl100kBase.count(" alpha beta gamma"), 3);
}
