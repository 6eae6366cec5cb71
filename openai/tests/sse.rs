//! The event-stream rules, each stream cut at every byte boundary and into single bytes, in
//! LF, CRLF and CR framing.

mod common;

use common::{FRAMINGS, Stream, frame, splits};
use openai::{SseError, SseEvent, SseParser};

type Outcome = Result<SseEvent, SseError>;

fn msg(data: &str) -> Outcome {
    Ok(SseEvent {
        event: "message".into(),
        data: data.into(),
    })
}

/// Feeds `bytes` to a parser in every cut and checks the outcome is always `want`.
fn check(name: &str, bytes: &[u8], limit: Option<usize>, want: &[Outcome]) {
    for split in splits(bytes.len()) {
        let mut parser = limit.map_or_else(SseParser::new, SseParser::with_limit);
        let mut got = Vec::new();
        for r in &split {
            got.extend(parser.feed(&bytes[r.clone()]));
        }
        assert_eq!(got, want, "{name}: cut {split:?}");
    }
}

fn check_framed(name: &str, events: &[&str], tail: &str, want: &[Outcome]) {
    for framing in FRAMINGS {
        let Stream { bytes, .. } = frame(events, tail, framing);
        check(&format!("{name} {framing:?}"), &bytes, None, want);
    }
}

#[test]
fn data_lines_join_with_newlines() {
    check_framed(
        "joined",
        &["data: YHOO\ndata: +2\ndata: 10"],
        "",
        &[msg("YHOO\n+2\n10")],
    );
}

#[test]
fn comments_ids_and_one_leading_space() {
    check_framed(
        "spec example",
        &[
            ": test stream",
            "data: first event\nid: 1",
            "data:second event\nid",
            "data:  third event\nretry: 100\nretry: soon",
        ],
        "",
        &[msg("first event"), msg("second event"), msg(" third event")],
    );
}

#[test]
fn fields_without_colons_and_empty_data() {
    // `data` alone is a data field with an empty value; an unfinished event is dropped.
    check_framed(
        "no colon",
        &["data", "data\ndata", "data:"],
        "data: unfinished",
        &[msg(""), msg("\n"), msg("")],
    );
}

#[test]
fn event_names_and_events_without_data() {
    check_framed(
        "event names",
        &[
            "event: add\ndata: 73857293",
            "event: ignored without data",
            "data: plain",
            "event\ndata: unnamed",
            "foo: bar\ndata: unknown fields pass",
        ],
        "",
        &[
            Ok(SseEvent {
                event: "add".into(),
                data: "73857293".into(),
            }),
            msg("plain"),
            msg("unnamed"),
            msg("unknown fields pass"),
        ],
    );
}

#[test]
fn a_leading_bom_is_skipped_once() {
    check_framed(
        "bom",
        &["\u{feff}data: a", "\u{feff}data: b", "data: c"],
        "",
        &[msg("a"), msg("c")],
    );
    // Bytes that only start like a BOM are kept.
    check(
        "half a bom",
        b"\xef\xbbdata: a\n\ndata: b\n\n",
        None,
        &[msg("b")],
    );
    check("bom only", b"\xef\xbb\xbf", None, &[]);
}

#[test]
fn mixed_line_ends() {
    check(
        "mixed",
        b"data: a\r\n\rdata: b\r\r\ndata: c\n\r\ndata: d\r\n\n",
        None,
        &[msg("a"), msg("b"), msg("c"), msg("d")],
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    check(
        "utf8",
        b"data: a\xff\xfeb \xc3\xa9\n\n",
        None,
        &[msg("a\u{fffd}\u{fffd}b \u{e9}")],
    );
}

#[test]
fn an_oversized_event_is_an_error_and_the_stream_goes_on() {
    let too_large = Err(SseError::EventTooLarge { limit: 16 });
    // Too large in one line, in several lines, and in a comment line.
    check(
        "one line",
        b"data: 0123456789abcdef\n\ndata: ok\n\n",
        Some(16),
        &[too_large.clone(), msg("ok")],
    );
    check(
        "many lines",
        b"data: 01234567\ndata: 89abcdef\ndata: more\n\ndata: ok\n\n",
        Some(16),
        &[too_large.clone(), msg("ok")],
    );
    check(
        "comment",
        b": 0123456789abcdefghij\n\rdata: ok\r\r",
        Some(16),
        &[too_large.clone(), msg("ok")],
    );
    // At the limit is fine.
    check(
        "fits",
        b"data: 0123456789\n\n",
        Some(16),
        &[msg("0123456789")],
    );
    let text = SseError::EventTooLarge { limit: 16 }.to_string();
    assert!(text.contains("expected a blank line"), "{text}");
}

#[test]
fn memory_stays_bounded_whatever_is_sent() {
    let mut parser = SseParser::with_limit(1024);
    let junk = vec![b'x'; 10_000];
    let mut errors = 0;
    for _ in 0..100 {
        errors += parser.feed(&junk).filter(Result::is_err).count();
    }
    assert_eq!(errors, 1);
    assert!(parser.pending());
    assert_eq!(
        parser.feed(b"\n\ndata: ok\n\n").collect::<Vec<_>>(),
        [msg("ok")]
    );
    assert!(!parser.pending());
}
