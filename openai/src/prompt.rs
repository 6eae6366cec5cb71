//! Prompts of an exact token length: word salad from a vocabulary of words that each encode to
//! one token, so that `n` words are `n` tokens, picked by a key so that no two requests share a
//! long prefix by accident (servers cache prefixes, and a shared prefix would flatter them).

use std::fmt;
use std::sync::LazyLock;

use crate::encoding::Encoding;

/// Builds prompts of an exact token length in one [`Encoding`]; cheap to copy.
///
/// A prompt is `tokens` words, each a space and lowercase ASCII letters that the encoding turns
/// into exactly one token (checked for every word when its vocabulary is built, from the
/// encoding's own token table, on first use). The encodings' pre-tokenizers cut text before
/// each such space, so the prompt is exactly `tokens` tokens; the prompt starts with a space.
///
/// The words come from a pseudo-random stream seeded by the key. The first five words spell
/// out the stream's first 64 bits, a bijection of the key, so prompts of five or more tokens
/// differ for different keys from their first five tokens on; two prompts share a prefix of
/// `k` words by chance with probability 2^(-14k). `prompt(n, key)` is a prefix of
/// `prompt(m, key)` for `n < m`.
///
/// Chat templates add tokens on the server (role markers, a system prompt, a BOS token), so
/// the `usage.prompt_tokens` of a chat request exceeds the requested length, and the served
/// model's tokenizer cuts the same text differently from tiktoken's.
#[derive(Clone, Copy)]
pub struct Prompts {
    encoding: Encoding,
    vocab: &'static Vocab,
}

/// The one-token words of an encoding, in its rank order.
struct Vocab {
    words: Vec<Box<str>>,
    /// log2 of `words.len()`: bits of the stream per word.
    bits: u32,
}

/// Bits of the key stream per word at most: 2^14 = 16,384 words; r50k_base and p50k_base have
/// about 19,700 such words, cl100k_base about 24,700, o200k_base about 47,500.
const MAX_BITS: u32 = 14;

static VOCABS: [LazyLock<Vocab>; 4] = [
    LazyLock::new(|| Vocab::build(Encoding::Cl100kBase)),
    LazyLock::new(|| Vocab::build(Encoding::O200kBase)),
    LazyLock::new(|| Vocab::build(Encoding::P50kBase)),
    LazyLock::new(|| Vocab::build(Encoding::R50kBase)),
];

impl Vocab {
    fn build(encoding: Encoding) -> Vocab {
        let bpe = encoding.bpe();
        let want = 1usize << MAX_BITS;
        let mut words = Vec::with_capacity(want);
        // Ranks run from 0 to the table's size (about 200k for o200k_base); ranks that are
        // not in the table (gaps, special tokens) fail to decode and are passed over.
        for rank in 0..300_000u32 {
            if words.len() == want {
                break;
            }
            let Ok(bytes) = bpe.decode_bytes(&[rank]) else {
                continue;
            };
            let word_like = bytes.len() >= 3
                && bytes[0] == b' '
                && bytes[1..].iter().all(u8::is_ascii_lowercase);
            if !word_like {
                continue;
            }
            let Ok(word) = String::from_utf8(bytes) else {
                continue;
            };
            if bpe.encode_ordinary(&word) == [rank] {
                words.push(word.into_boxed_str());
            }
        }
        // A power of two, so that the key stream's bits map evenly onto words.
        let bits = words.len().max(1).ilog2().min(MAX_BITS);
        words.truncate(1 << bits);
        Vocab { words, bits }
    }
}

impl Prompts {
    /// The prompt builder of `encoding`. The first call per encoding builds its vocabulary
    /// (tens of milliseconds, plus loading the tokenizer); later calls are free.
    pub fn new(encoding: Encoding) -> Prompts {
        let index = match encoding {
            Encoding::Cl100kBase => 0,
            Encoding::O200kBase => 1,
            Encoding::P50kBase => 2,
            Encoding::R50kBase => 3,
        };
        Prompts {
            encoding,
            vocab: &VOCABS[index],
        }
    }

    /// The encoding prompts are measured in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// How many distinct words prompts are made of (16,384 in every encoding).
    pub fn vocabulary(&self) -> usize {
        self.vocab.words.len()
    }

    /// A text that encodes to exactly `tokens` tokens in this encoding, its words picked by
    /// `key` (the empty string for 0 tokens).
    pub fn prompt(&self, tokens: u32, key: u64) -> String {
        let words = &self.vocab.words;
        let bits = self.vocab.bits;
        let mask = (1u128 << bits) - 1;
        let mut out = String::with_capacity(tokens as usize * 8);
        let mut stream = SplitMix64(key);
        let mut pool = 0u128;
        let mut held = 0u32;
        for _ in 0..tokens {
            if held < bits {
                pool |= u128::from(stream.next()) << held;
                held += 64;
            }
            // `mask` < words.len(), so the index is in bounds; `get` keeps that unpanicky.
            if let Some(word) = words.get((pool & mask) as usize) {
                out.push_str(word);
            }
            pool >>= bits;
            held -= bits;
        }
        out
    }

    /// The number of tokens `text` encodes to (see [`Encoding::count`]).
    pub fn count(&self, text: &str) -> usize {
        self.encoding.count(text)
    }
}

impl fmt::Debug for Prompts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompts")
            .field("encoding", &self.encoding)
            .field("vocabulary", &self.vocab.words.len())
            .finish()
    }
}

/// Vigna's SplitMix64: each output is a bijection of the state, so the first output is a
/// bijection of the seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
