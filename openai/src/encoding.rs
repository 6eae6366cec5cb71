//! The tokenizers scalebench counts tokens with: tiktoken's BPE encodings, compiled into the
//! binary by `tiktoken-rs` (its `.tiktoken` files are `include_str!`ed), so nothing is fetched
//! at run time.

use std::fmt;

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

/// A tiktoken encoding: the tokenizer prompts are built for and answers are counted with.
///
/// Serde names are tiktoken's (`cl100k_base`...). It is a stand-in for the served model's own
/// tokenizer (a Llama or Qwen tokenizer cuts the same text differently): the server's
/// `usage` counts are the authoritative ones when it sends them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// GPT-3.5 and GPT-4's encoding (about 100k tokens), the default.
    #[default]
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
    /// GPT-4o's and the o-series' encoding (about 200k tokens).
    #[serde(rename = "o200k_base")]
    O200kBase,
    /// Codex's encoding (about 50k tokens).
    #[serde(rename = "p50k_base")]
    P50kBase,
    /// GPT-2's and GPT-3's encoding (about 50k tokens).
    #[serde(rename = "r50k_base")]
    R50kBase,
}

impl Encoding {
    /// Every encoding, in declaration order.
    pub const ALL: [Encoding; 4] = [
        Encoding::Cl100kBase,
        Encoding::O200kBase,
        Encoding::P50kBase,
        Encoding::R50kBase,
    ];

    /// tiktoken's name of the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::R50kBase => "r50k_base",
        }
    }

    /// The tokenizer, built once per process on first use (a few hundred milliseconds for
    /// o200k_base) and shared after that.
    pub(crate) fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::P50kBase => tiktoken_rs::p50k_base_singleton(),
            Encoding::R50kBase => tiktoken_rs::r50k_base_singleton(),
        }
    }

    /// The number of tokens `text` encodes to, special-token text (`<|endoftext|>`) counted as
    /// ordinary text.
    ///
    /// Never panics: tiktoken's regex gives up on runs of about a million whitespace
    /// characters, so the text is encoded in pieces of at most 64 KiB cut where the encoding
    /// splits anyway (a space after a non-space), which leaves the count unchanged. A stretch
    /// of more than 64 KiB without such a place is cut where it must be, and its count may be
    /// off by a token or so per cut.
    pub fn count(self, text: &str) -> usize {
        let bpe = self.bpe();
        segments(text, MAX_SEGMENT)
            .map(|s| bpe.encode_ordinary(s).len())
            .sum()
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The longest piece [`Encoding::count`] hands to tiktoken at once.
const MAX_SEGMENT: usize = 64 * 1024;

/// `text` in consecutive pieces of at most `max` bytes (but never an empty piece, and never
/// splitting a character), each cut made before a space that follows a non-whitespace
/// character where there is one.
///
/// In all four encodings no pre-tokenizer pattern matches a non-whitespace character followed
/// by a space, and none looks behind, so the pieces encode to the tokens of the whole.
pub(crate) fn segments(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let max = max.max(4);
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() <= max {
            return Some(std::mem::take(&mut rest));
        }
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let cut = safe_cut(&rest[..end]).unwrap_or(end);
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// The last index `i > 0` of `window` with a space at `i` and a non-whitespace character
/// just before it.
fn safe_cut(window: &str) -> Option<usize> {
    let bytes = window.as_bytes();
    let mut i = bytes.len();
    while i > 1 {
        i -= 1;
        if bytes[i] == b' ' {
            let before = window[..i].chars().next_back();
            if before.is_some_and(|c| !c.is_whitespace()) {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_text_and_cut_before_spaces() {
        let text = "ab cd  ef\u{e9} gh".repeat(50);
        let pieces: Vec<&str> = segments(&text, 16).collect();
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 16));
        for p in &pieces[1..] {
            assert!(p.starts_with(' '), "{p:?}");
        }
    }

    #[test]
    fn segments_cut_where_they_must() {
        let text = "\u{e9}".repeat(100);
        let pieces: Vec<&str> = segments(&text, 7).collect();
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| p.len() <= 7 && p.len() % 2 == 0));
    }

    #[test]
    fn counts_of_long_texts_equal_tiktoken_s_own() {
        let text =
            "The quick, brown fox jumps  over\n\n the lazy dog 12345. \u{3000}x ".repeat(4000);
        assert!(text.len() > 3 * MAX_SEGMENT);
        for enc in Encoding::ALL {
            let whole = enc.bpe().encode_ordinary(&text).len();
            assert_eq!(enc.count(&text), whole, "{enc}");
        }
    }

    #[test]
    fn a_million_spaces_do_not_panic() {
        let text = format!("{}x", " ".repeat(1_500_000));
        for enc in Encoding::ALL {
            assert!(enc.count(&text) > 0, "{enc}");
        }
    }
}
