//! The tokenizer of a GGUF model, built from its metadata: GPT-2-style
//! byte-level BPE (tokens, merges, control tokens) with the pre-tokenizer the
//! file names. It must give exactly llama.cpp's ids; a committed fixture,
//! produced by llama.cpp itself, checks that.

use std::collections::HashMap;

use crate::gguf::{GgufFile, Value};
use fancy_regex::Regex;

/// Why a tokenizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A metadata key is missing or has the wrong type.
    #[error("GGUF metadata `{key}`: {reason}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The file's tokenizer is of a kind vigie does not implement.
    #[error("unsupported tokenizer: {0}")]
    Unsupported(String),
}

/// A byte-level BPE tokenizer.
#[derive(Debug)]
pub struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    /// (left id, right id) → (rank, merged id).
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// Control and user-defined tokens, longest first, for splitting raw text.
    specials: Vec<(String, u32)>,
    is_special: Vec<bool>,
    pre: Vec<Regex>,
    byte_char: [char; 256],
    char_byte: HashMap<char, u8>,
    /// Beginning-of-sequence id.
    pub bos: Option<u32>,
    /// End-of-sequence id.
    pub eos: Option<u32>,
    /// Whether prompts start with `bos`.
    pub add_bos: bool,
}

fn meta<'a>(content: &'a GgufFile, key: &str) -> Result<&'a Value, TokenizerError> {
    content
        .metadata
        .get(key)
        .ok_or_else(|| TokenizerError::Metadata {
            key: key.into(),
            reason: "missing".into(),
        })
}

fn bad(key: &str, e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Metadata {
        key: key.into(),
        reason: e.to_string(),
    }
}

fn meta_u32(content: &GgufFile, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(Value::as_u32)
}

/// GPT-2's map from bytes to printable characters, so that every byte
/// sequence is a string of "visible" characters.
fn byte_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable =
            (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        map[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("a valid code point");
            next += 1;
            c
        };
    }
    map
}

/// A byte without a token, while merging.
const NO_TOKEN: u32 = u32::MAX;

const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

impl Tokenizer {
    /// Builds the tokenizer described by a GGUF file's metadata.
    pub fn from_gguf(content: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        let model = meta(content, "tokenizer.ggml.model")?
            .as_str()
            .ok_or_else(|| bad("tokenizer.ggml.model", "not a string"))?;
        if model != "gpt2" {
            return Err(TokenizerError::Unsupported(format!(
                "tokenizer.ggml.model = `{model}` (vigie implements `gpt2` byte-level BPE)"
            )));
        }
        let pre_name = content
            .metadata
            .get("tokenizer.ggml.pre")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let patterns: Vec<&str> = match pre_name.as_str() {
            // llama.cpp's STARCODER family: digits one by one, then GPT-2.
            "smollm" | "starcoder" | "refact" | "codeshell" => vec![r"\p{N}", GPT2_PATTERN],
            "gpt2" | "default" => vec![GPT2_PATTERN],
            other => {
                return Err(TokenizerError::Unsupported(format!(
                    "tokenizer.ggml.pre = `{other}`"
                )))
            }
        };
        let pre = patterns
            .iter()
            .map(|p| Regex::new(p).expect("valid pre-tokenizer pattern"))
            .collect();

        let key = "tokenizer.ggml.tokens";
        let tokens: Vec<String> = meta(content, key)?
            .as_array()
            .ok_or_else(|| bad(key, "not an array"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(key, "an entry is not a string"))
            })
            .collect::<Result<_, _>>()?;
        let ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .as_array()
                .ok_or_else(|| bad("tokenizer.ggml.token_type", "not an array"))?
                .iter()
                .map(|t| t.as_u32().map_or(1, |t| t as i32))
                .collect(),
            None => vec![1; tokens.len()],
        };
        // Control (3) and user-defined (4) tokens are matched in raw text.
        let is_special: Vec<bool> = (0..tokens.len())
            .map(|i| matches!(types.get(i), Some(3 | 4)))
            .collect();
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|(i, t)| is_special[*i] && !t.is_empty())
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));

        let key = "tokenizer.ggml.merges";
        let mut merges = HashMap::new();
        for (rank, merge) in meta(content, key)?
            .as_array()
            .ok_or_else(|| bad(key, "not an array"))?
            .iter()
            .enumerate()
        {
            let merge = merge
                .as_str()
                .ok_or_else(|| bad(key, format!("merge {rank} is not a string")))?;
            let (left, right) = merge
                .split_once(' ')
                .ok_or_else(|| bad(key, format!("merge {rank} `{merge}` has no space")))?;
            let (Some(&l), Some(&r), Some(&m)) = (
                ids.get(left),
                ids.get(right),
                ids.get(&format!("{left}{right}")),
            ) else {
                continue; // a merge whose result is not a token can never apply
            };
            merges.insert((l, r), (rank as u32, m));
        }
        let byte_char = byte_chars();
        // An id outside the vocabulary is ignored, as llama.cpp ignores it.
        let special = |key: &str| meta_u32(content, key).filter(|&id| (id as usize) < tokens.len());
        let (bos, eos) = (
            special("tokenizer.ggml.bos_token_id"),
            special("tokenizer.ggml.eos_token_id"),
        );
        let char_byte = byte_char
            .iter()
            .enumerate()
            .map(|(b, c)| (*c, b as u8))
            .collect();
        let add_bos = content
            .metadata
            .get("tokenizer.ggml.add_bos_token")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Tokenizer {
            tokens,
            ids,
            merges,
            specials,
            is_special,
            pre,
            byte_char,
            char_byte,
            bos,
            eos,
            add_bos,
        })
    }

    /// The number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The id of a token's exact text (`<|im_end|>`).
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// Whether an id is a control or user-defined token.
    pub fn is_special(&self, id: u32) -> bool {
        self.is_special.get(id as usize).copied().unwrap_or(false)
    }

    /// Tokenizes text. With `parse_special`, control tokens written in the
    /// text (`<|im_start|>`) become their ids, as in a rendered chat template.
    pub fn encode(&self, text: &str, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if self.add_bos {
            out.extend(self.bos);
        }
        let mut rest = text;
        while !rest.is_empty() {
            let next_special = if parse_special {
                self.specials
                    .iter()
                    .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                    .min_by_key(|(at, len, _)| (*at, usize::MAX - len))
            } else {
                None
            };
            match next_special {
                Some((at, len, id)) => {
                    self.encode_text(&rest[..at], &mut out);
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => {
                    self.encode_text(rest, &mut out);
                    break;
                }
            }
        }
        out
    }

    fn encode_text(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut pieces = vec![text];
        for regex in &self.pre {
            pieces = pieces
                .into_iter()
                .flat_map(|piece| split(regex, piece))
                .collect();
        }
        for piece in pieces {
            self.bpe(piece, out);
        }
    }

    fn bpe(&self, piece: &str, out: &mut Vec<u32>) {
        // A byte with no token of its own (SmolLM2's vocabulary has none for
        // 0x04) takes part in no merge and is left out, as llama.cpp leaves it.
        let mut symbols: Vec<u32> = piece
            .bytes()
            .map(|b| {
                let c = self.byte_char[b as usize];
                self.ids
                    .get(c.encode_utf8(&mut [0u8; 4]) as &str)
                    .copied()
                    .unwrap_or(NO_TOKEN)
            })
            .collect();
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, pair)| {
                    self.merges
                        .get(&(pair[0], pair[1]))
                        .map(|&(rank, merged)| (rank, i, merged))
                })
                .min();
            let Some((_, i, merged)) = best else { break };
            symbols[i] = merged;
            symbols.remove(i + 1);
        }
        out.extend(symbols.into_iter().filter(|&id| id != NO_TOKEN));
    }

    /// The bytes a token stands for (control tokens: none).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        if self.is_special(id) {
            return Vec::new();
        }
        let Some(text) = self.tokens.get(id as usize) else {
            return Vec::new();
        };
        text.chars()
            .map(|c| self.char_byte.get(&c).copied().unwrap_or(b'?'))
            .collect()
    }

    /// The text of a sequence of ids, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Splits `text` into the regex's matches and the text between them, in order.
fn split<'a>(regex: &Regex, text: &'a str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut last = 0;
    for found in regex.find_iter(text) {
        let Ok(m) = found else { break };
        if m.start() > last {
            pieces.push(&text[last..m.start()]);
        }
        if m.end() > m.start() {
            pieces.push(m.as_str());
        }
        last = m.end();
    }
    if last < text.len() {
        pieces.push(&text[last..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_map_to_distinct_printable_chars() {
        let map = byte_chars();
        assert_eq!(map[b'A' as usize], 'A');
        assert_eq!(map[b' ' as usize], 'Ġ');
        assert_eq!(map[b'\n' as usize], 'Ċ');
        let distinct: std::collections::HashSet<char> = map.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn the_starcoder_split_isolates_digits_and_keeps_gaps() {
        let digits = Regex::new(r"\p{N}").unwrap();
        let gpt2 = Regex::new(GPT2_PATTERN).unwrap();
        let pieces: Vec<&str> = split(&digits, "ab12 c")
            .into_iter()
            .flat_map(|p| split(&gpt2, p))
            .collect();
        assert_eq!(pieces, ["ab", "1", "2", " c"]);
        assert_eq!(split(&gpt2, "a  \n\nb"), ["a", "  \n", "\n", "b"]);
        assert_eq!(split(&gpt2, "don't"), ["don", "'t"]);
    }
}
