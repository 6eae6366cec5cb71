//! TTFT, ITL, TPOT and tokens per second against the worked example of docs/llm.md, computed
//! by hand.

use openai::{Completion, TokenTimes};

const MS: u64 = 1_000_000;

/// docs/llm.md's example: intended at 10 s, sent late at 10.040 s, content chunks at
/// 10.250, 10.300, 10.420 and 10.450 s, the stream over at 10.500 s, usage 6 tokens.
fn example() -> Completion {
    let at = |ms: u64| 10_000 * MS + ms * MS;
    Completion {
        first_token_ns: Some(at(250)),
        chunk_ns: vec![at(250), at(300), at(420), at(450)],
        output_tokens: Some(6),
        counted_tokens: 4,
        prompt_tokens: Some(128),
        error: None,
        done: true,
        finish_reason: Some("length".into()),
        end_ns: at(500),
    }
}

#[test]
fn the_worked_example() {
    let c = example();
    let t = TokenTimes::of(&c, 10_000 * MS, c.end_ns);
    assert_eq!(
        t,
        TokenTimes {
            ttft_ns: Some(250 * MS),
            itl_ns: vec![50 * MS, 120 * MS, 30 * MS],
            // (10.500 - 10.250) s / (6 - 1)
            tpot_ns: Some(50 * MS),
            e2e_ns: 500 * MS,
            output_tokens: 6,
            // 6 / 0.5 s
            tokens_per_s: Some(12.0),
        }
    );
}

#[test]
fn without_usage_the_counted_tokens_are_used_and_tpot_rounds_down() {
    let c = Completion {
        output_tokens: None,
        ..example()
    };
    let t = TokenTimes::of(&c, 10_000 * MS, c.end_ns);
    assert_eq!(t.output_tokens, 4);
    // 250 ms / 3 = 83.333... ms
    assert_eq!(t.tpot_ns, Some(83_333_333));
    assert_eq!(t.tokens_per_s, Some(8.0));
    assert_eq!(t.ttft_ns, Some(250 * MS));
}

#[test]
fn one_token_has_no_tpot_and_no_token_has_no_ttft() {
    let one = Completion {
        output_tokens: Some(1),
        chunk_ns: vec![10_250 * MS],
        ..example()
    };
    let t = TokenTimes::of(&one, 10_000 * MS, one.end_ns);
    assert_eq!(t.tpot_ns, None);
    assert!(t.itl_ns.is_empty());
    assert_eq!(t.tokens_per_s, Some(2.0));

    let none = Completion {
        end_ns: 10_100 * MS,
        ..Completion::default()
    };
    let t = TokenTimes::of(&none, 10_000 * MS, none.end_ns);
    assert_eq!(t.ttft_ns, None);
    assert_eq!(t.tpot_ns, None);
    assert_eq!(t.e2e_ns, 100 * MS);
    assert_eq!(t.output_tokens, 0);
    assert_eq!(t.tokens_per_s, Some(0.0));
}

#[test]
fn instants_before_the_intended_time_give_zero_not_a_wrap() {
    let c = example();
    let t = TokenTimes::of(&c, 20_000 * MS, 0);
    assert_eq!(t.ttft_ns, Some(0));
    assert_eq!(t.e2e_ns, 0);
    assert_eq!(t.tpot_ns, Some(0));
    assert_eq!(t.tokens_per_s, None);
}
