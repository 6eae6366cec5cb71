//! Prompts encode to exactly the requested number of tokens, in every encoding, for many
//! lengths and keys, and differ from key to key from their start.

use openai::{Encoding, Prompts};

/// Lengths 1..=300, then a spread up to 8192.
fn lengths() -> Vec<u32> {
    let mut all: Vec<u32> = (1..=300).collect();
    all.extend([
        301, 333, 500, 511, 512, 513, 777, 1000, 1023, 1024, 1025, 1500, 2000, 2047, 2048, 3000,
        4095, 4096, 4097, 5000, 6000, 7000, 8000, 8191, 8192,
    ]);
    all
}

#[test]
fn exact_lengths_in_every_encoding() {
    let keys = [0, 1, 2, 42, 0xDEAD_BEEF, u64::MAX];
    for encoding in Encoding::ALL {
        let prompts = Prompts::new(encoding);
        assert_eq!(prompts.vocabulary(), 16_384, "{encoding}");
        for (i, tokens) in lengths().into_iter().enumerate() {
            // Every key for the short lengths, a rotating pair for the long ones.
            let some_keys: Vec<u64> = if tokens <= 64 {
                keys.to_vec()
            } else {
                vec![keys[i % keys.len()], keys[(i + 3) % keys.len()]]
            };
            for key in some_keys {
                let text = prompts.prompt(tokens, key);
                assert_eq!(
                    prompts.count(&text),
                    tokens as usize,
                    "{encoding}: {tokens} tokens, key {key}: {text:?}"
                );
            }
        }
        assert_eq!(prompts.prompt(0, 7), "");
    }
}

#[test]
fn keys_pick_different_words_from_the_start() {
    let prompts = Prompts::new(Encoding::Cl100kBase);
    let texts: Vec<String> = (0..2000).map(|key| prompts.prompt(64, key)).collect();
    let mut longest = 0;
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let shared = a
                .split(' ')
                .zip(b.split(' '))
                .take_while(|(x, y)| x == y)
                .count();
            longest = longest.max(shared);
        }
    }
    // The leading "" of the split, and by chance at most one word in 2^14 pairs' worth.
    assert!(longest <= 2, "two keys share {longest} leading words");
    // Five tokens spell out the key's 64 bits: no two keys collide there.
    let mut short: Vec<String> = (0..20_000).map(|key| prompts.prompt(5, key)).collect();
    short.sort();
    short.dedup();
    assert_eq!(short.len(), 20_000);
}

#[test]
fn a_key_s_shorter_prompt_is_a_prefix_of_its_longer_one() {
    let prompts = Prompts::new(Encoding::O200kBase);
    let long = prompts.prompt(500, 99);
    let short = prompts.prompt(120, 99);
    assert!(long.starts_with(&short));
    assert_eq!(prompts.prompt(500, 99), long);
}

#[test]
fn counts_of_special_token_text_and_chat_like_text() {
    let cl100k = Encoding::Cl100kBase;
    assert_eq!(cl100k.count(""), 0);
    assert_eq!(cl100k.count("Hello world"), 2);
    // Counted as ordinary text, not as the one special token.
    assert!(cl100k.count("<|endoftext|>") > 1);
}

#[test]
fn encodings_have_tiktoken_s_names() {
    for encoding in Encoding::ALL {
        let json = serde_json::to_string(&encoding).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", encoding.name()));
        let back: Encoding = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, encoding);
    }
    assert_eq!(Encoding::default(), Encoding::Cl100kBase);
    assert!(serde_json::from_str::<Encoding>("\"gpt2\"").is_err());
}
