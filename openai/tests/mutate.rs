//! Property tests: valid streams from the server side's writer, mutated (bytes flipped,
//! inserted and deleted, the stream truncated) and cut at random, through the SSE parser and
//! the stream decoder: never a panic, every error a message that says what was expected (or
//! the server's own error). Unmutated streams decode exactly.

use openai::{Api, Encoding, ResponseWriter, SseParser, StreamDecoder, TokenTimes, decode_body};
use proptest::prelude::*;

/// A valid answer as the testbed would stream it.
#[derive(Clone, Debug)]
struct Answer {
    api: Api,
    pieces: Vec<String>,
    usage: bool,
    error: Option<String>,
    keep_alives: bool,
    crlf: bool,
}

impl Answer {
    fn writer(&self) -> ResponseWriter {
        ResponseWriter::new(self.api, "id-1", "model", 1)
    }

    fn stream(&self) -> Vec<u8> {
        let w = self.writer();
        let mut out = w.role();
        for piece in &self.pieces {
            if self.keep_alives {
                out.extend_from_slice(b": keep-alive\n\n");
            }
            out.extend(w.content(piece));
        }
        if let Some(e) = &self.error {
            out.extend(w.error(e, "InternalServerError", 500));
        }
        out.extend(w.finish("length"));
        if self.usage {
            out.extend(w.usage(3, self.pieces.len() as u32));
        }
        out.extend(w.done());
        if self.crlf {
            let text = String::from_utf8_lossy(&out).replace('\n', "\r\n");
            out = text.into_bytes();
        }
        out
    }
}

fn api() -> impl Strategy<Value = Api> {
    prop_oneof![Just(Api::Chat), Just(Api::Completions)]
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        api(),
        prop::collection::vec(any::<String>(), 0..12),
        any::<bool>(),
        prop::option::weighted(0.2, any::<String>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(api, pieces, usage, error, keep_alives, crlf)| Answer {
            api,
            pieces,
            usage,
            error,
            keep_alives,
            crlf,
        })
}

/// One change to the bytes; positions are taken modulo the length.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(vec![
            b'\n', b'\r', b':', b' ', b'{', b'}', b'[', b']', b'"', b',', b'\\', 0xEF, 0xBB, 0xBF,
            0xFF, 0xC3,
        ]),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (any::<usize>(), byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len();
        match *m {
            Mutation::Flip(at, x) if n > 0 => bytes[at % n] ^= x,
            Mutation::Insert(at, b) => bytes.insert(at % (n + 1), b),
            Mutation::Delete(at) if n > 0 => {
                bytes.remove(at % n);
            }
            Mutation::Truncate(at) => bytes.truncate(at % (n + 1)),
            _ => {}
        }
    }
    bytes
}

/// `bytes` cut at `cuts` (taken modulo the length).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fn says_what_was_expected(error: &str) -> bool {
    error.contains("expected") || error.starts_with("server error: ")
}

proptest! {
    #![proptest_config(ProptestConfig {
        // No regression files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::with_cases(10_000)
    })]

    #[test]
    fn mutated_streams_never_panic_and_errors_say_what_was_expected(
        answer in answer(),
        mutations in prop::collection::vec(mutation(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        counted in any::<bool>(),
        intended in any::<u64>(),
    ) {
        let bytes = mutate(answer.stream(), &mutations);
        let pieces = pieces(&bytes, &cuts);

        let mut parser = SseParser::with_limit(512);
        for piece in &pieces {
            for event in parser.feed(piece) {
                if let Err(e) = event {
                    prop_assert!(e.to_string().contains("expected"), "{}", e);
                }
            }
        }

        let encoding = counted.then_some(Encoding::O200kBase);
        let mut decoder = StreamDecoder::new(answer.api, encoding);
        for (i, piece) in pieces.iter().enumerate() {
            decoder.feed(piece, i as u64);
        }
        let c = decoder.finish(pieces.len() as u64);
        if let Some(error) = &c.error {
            prop_assert!(says_what_was_expected(error), "{}", error);
        }
        prop_assert!(c.chunk_ns.windows(2).all(|w| w[0] <= w[1]));
        prop_assert_eq!(c.first_token_ns, c.chunk_ns.first().copied());
        let t = TokenTimes::of(&c, intended, c.end_ns);
        prop_assert_eq!(t.itl_ns.len(), c.chunk_ns.len().saturating_sub(1));

        let body = mutate(
            answer.writer().body(&answer.pieces.concat(), "length", 3, 4),
            &mutations,
        );
        let c = decode_body(answer.api, encoding, &body, 7);
        if let Some(error) = &c.error {
            prop_assert!(says_what_was_expected(error), "{}", error);
        }
    }

    #[test]
    fn unmutated_streams_decode_exactly(
        answer in answer(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let bytes = answer.stream();
        let pieces = pieces(&bytes, &cuts);
        let mut decoder = StreamDecoder::new(answer.api, Some(Encoding::Cl100kBase));
        for piece in &pieces {
            decoder.feed(piece, 1);
        }
        let c = decoder.finish(2);
        let text = answer.pieces.concat();
        prop_assert_eq!(c.counted_tokens as usize, Encoding::Cl100kBase.count(&text));
        let non_empty = answer.pieces.iter().filter(|p| !p.is_empty()).count();
        prop_assert_eq!(c.chunk_ns.len(), non_empty);
        prop_assert!(c.done);
        prop_assert_eq!(c.output_tokens, answer.usage.then_some(answer.pieces.len() as u32));
        prop_assert_eq!(c.finish_reason.as_deref(), Some("length"));
        match &answer.error {
            Some(e) => prop_assert_eq!(c.error, Some(format!("server error: {e}"))),
            None => prop_assert_eq!(c.error, None),
        }
    }
}
