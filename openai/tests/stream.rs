//! The stream decoder against every case of an OpenAI-compatible stream, each stream cut at
//! every byte boundary and into single bytes, in LF, CRLF and CR framing: the same
//! completion whatever the cut, each content chunk stamped with the instant of the feed that
//! completed its event.

mod common;

use common::{FRAMINGS, frame, piece_of, splits};
use openai::{Api, Encoding, StreamDecoder};

const ROLE: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#;
const HEL: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]}"#;
const LO: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"logprobs":null,"finish_reason":null}]}"#;
const WORLD: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}"#;
const FINISH: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}"#;
const USAGE: &str = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#;
const DONE: &str = "data: [DONE]";

/// What a stream must decode to.
struct Case {
    name: &'static str,
    api: Api,
    encoding: Option<Encoding>,
    /// The events, each followed by a blank line.
    events: &'static [&'static str],
    /// Bytes after the last blank line.
    tail: &'static str,
    /// Which events are content chunks.
    content: &'static [usize],
    output_tokens: Option<u32>,
    prompt_tokens: Option<u32>,
    counted: u32,
    /// A part of the error message, if the request failed.
    error: Option<&'static str>,
    done: bool,
    finish_reason: Option<&'static str>,
}

const CHAT: Case = Case {
    name: "chat with usage",
    api: Api::Chat,
    encoding: None,
    events: &[ROLE, HEL, LO, WORLD, FINISH, USAGE, DONE],
    tail: "",
    content: &[1, 2, 3],
    output_tokens: Some(3),
    prompt_tokens: Some(5),
    counted: 3,
    error: None,
    done: true,
    finish_reason: Some("length"),
};

const CASES: &[Case] = &[
    CHAT,
    Case {
        name: "counted with a tokenizer",
        encoding: Some(Encoding::Cl100kBase),
        // "Hello world": "Hello", " world".
        counted: 2,
        ..CHAT
    },
    Case {
        name: "no usage chunk",
        events: &[ROLE, HEL, LO, FINISH, DONE],
        content: &[1, 2],
        output_tokens: None,
        prompt_tokens: None,
        counted: 2,
        ..CHAT
    },
    Case {
        name: "completions",
        api: Api::Completions,
        events: &[
            r#"data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"a","logprobs":null,"finish_reason":null}]}"#,
            r#"data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":null}]}"#,
            r#"data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"b","logprobs":null,"finish_reason":null}]}"#,
            r#"data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop"}]}"#,
            r#"data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
            DONE,
        ],
        content: &[0, 2],
        output_tokens: Some(2),
        prompt_tokens: Some(9),
        counted: 2,
        finish_reason: Some("stop"),
        ..CHAT
    },
    Case {
        name: "keep-alives, ids, retries, event names, no space after the colon",
        events: &[
            ": keep-alive",
            "event: message\nid: 7\nretry: 1000\n: a comment inside\ndata:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}",
            ": ping",
            ":",
            HEL,
            DONE,
        ],
        content: &[1, 4],
        output_tokens: None,
        prompt_tokens: None,
        counted: 2,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "data over several lines, a field without a colon",
        events: &[
            ROLE,
            "data: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"x\"}}]}\ndata",
            DONE,
        ],
        content: &[1],
        output_tokens: None,
        prompt_tokens: None,
        counted: 1,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "role-only chunks are not tokens",
        events: &[
            r#"data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            ROLE,
            HEL,
            DONE,
        ],
        content: &[3],
        output_tokens: None,
        prompt_tokens: None,
        counted: 1,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "reasoning is generated tokens too",
        events: &[
            r#"data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"reasoning":" so"}}]}"#,
            HEL,
            DONE,
        ],
        content: &[0, 1, 2],
        output_tokens: None,
        prompt_tokens: None,
        counted: 3,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "a mid-stream error",
        events: &[
            ROLE,
            HEL,
            r#"data: {"error":{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}}"#,
            DONE,
        ],
        content: &[1],
        output_tokens: None,
        prompt_tokens: None,
        counted: 1,
        error: Some("server error: CUDA out of memory"),
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "vLLM's older error, TGI's error string, an error event",
        events: &[
            r#"data: {"object":"error","message":"first","type":"BadRequestError","code":400}"#,
            r#"data: {"error":"second","error_type":"validation"}"#,
            "event: error\ndata: third",
        ],
        content: &[],
        output_tokens: None,
        prompt_tokens: None,
        counted: 0,
        error: Some("server error: first"),
        done: false,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "an error event",
        events: &["event: error\ndata: overloaded", DONE],
        content: &[],
        output_tokens: None,
        prompt_tokens: None,
        counted: 0,
        error: Some("server error: overloaded"),
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "ends without [DONE]",
        events: &[ROLE, HEL, LO],
        content: &[1, 2],
        output_tokens: None,
        prompt_tokens: None,
        counted: 2,
        done: false,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "ends in the middle of an event",
        events: &[ROLE, HEL],
        tail: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n",
        content: &[1],
        output_tokens: None,
        prompt_tokens: None,
        counted: 1,
        done: false,
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "data that is not JSON",
        events: &[ROLE, "data: hello there", HEL, DONE],
        content: &[2],
        output_tokens: None,
        prompt_tokens: None,
        counted: 1,
        error: Some("data \"hello there\" is not JSON: expected a JSON completion chunk or [DONE]"),
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "JSON that is not a chunk",
        events: &[r#"data: {"choices":5}"#, r#"data: [1, 2]"#, DONE],
        content: &[],
        output_tokens: None,
        prompt_tokens: None,
        counted: 0,
        error: Some("is not an OpenAI completion chunk: expected a JSON object"),
        finish_reason: None,
        ..CHAT
    },
    Case {
        name: "a byte order mark, other choices, usage in every chunk, data after [DONE]",
        events: &[
            "\u{feff}data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"z\"}}]}",
            r#"data: {"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":4,"completion_tokens":1}}"#,
            r#"data: {"choices":[{"index":0,"delta":{"content":"b"}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#,
            DONE,
            HEL,
        ],
        content: &[1, 2],
        output_tokens: Some(2),
        prompt_tokens: Some(4),
        counted: 2,
        finish_reason: None,
        ..CHAT
    },
];

#[test]
fn every_case_in_every_cut_and_framing() {
    for case in CASES {
        for framing in FRAMINGS {
            let stream = frame(case.events, case.tail, framing);
            let bytes = &stream.bytes;
            for split in splits(bytes.len()) {
                let what = format!(
                    "{} / {framing:?} / cut {:?}",
                    case.name,
                    &split[..split.len().min(3)]
                );
                let mut decoder = StreamDecoder::new(case.api, case.encoding);
                for (i, r) in split.iter().enumerate() {
                    decoder.feed(&bytes[r.clone()], i as u64);
                }
                let c = decoder.finish(1_000);
                let chunk_ns: Vec<u64> = case
                    .content
                    .iter()
                    .map(|&e| piece_of(&split, stream.dispatch[e]))
                    .collect();
                assert_eq!(c.chunk_ns, chunk_ns, "{what}");
                assert_eq!(c.first_token_ns, chunk_ns.first().copied(), "{what}");
                assert_eq!(c.output_tokens, case.output_tokens, "{what}");
                assert_eq!(c.prompt_tokens, case.prompt_tokens, "{what}");
                assert_eq!(c.counted_tokens, case.counted, "{what}");
                assert_eq!(c.done, case.done, "{what}");
                assert_eq!(c.finish_reason.as_deref(), case.finish_reason, "{what}");
                assert_eq!(c.end_ns, 1_000, "{what}");
                match (case.error, &c.error) {
                    (None, None) => {}
                    (Some(want), Some(got)) => assert!(got.contains(want), "{what}: {got}"),
                    (want, got) => panic!("{what}: error {got:?}, expected {want:?}"),
                }
            }
        }
    }
}

#[test]
fn an_oversized_event_fails_the_request() {
    let big = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n",
        "x".repeat(1 << 20)
    );
    let stream = format!("{big}{HEL}\n\n{DONE}\n\n");
    for cut in [1, 1000, big.len() - 1, big.len(), stream.len() - 3] {
        let mut decoder = StreamDecoder::new(Api::Chat, None);
        decoder.feed(&stream.as_bytes()[..cut], 1);
        decoder.feed(&stream.as_bytes()[cut..], 2);
        let c = decoder.finish(3);
        let error = c.error.unwrap_or_default();
        assert!(
            error.contains("larger than 1048576 bytes: expected a blank line"),
            "{error}"
        );
        assert!(c.done);
        assert_eq!(c.counted_tokens, 1);
    }
}

#[test]
fn done_tells_the_caller_to_stop_reading() {
    let mut decoder = StreamDecoder::new(Api::Chat, None);
    decoder.feed(format!("{HEL}\n\n").as_bytes(), 1);
    assert!(!decoder.done());
    decoder.feed(b"data: [DONE]\n\n", 2);
    assert!(decoder.done());
}
