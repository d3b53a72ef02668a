//! The llama architecture on candle's quantized kernels: GGUF weights stay
//! quantized (Q4_1 here) and are multiplied in place; one [`KvCache`] per
//! sequence.

use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};

use crate::tokenizer::{Tokenizer, TokenizerError};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The GGUF content is not a model vigie can run.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The tokenizer in the file.
    #[error("{path}: {source}")]
    Tokenizer {
        /// The file.
        path: String,
        /// Why.
        source: TokenizerError,
    },
    /// A tensor operation failed.
    #[error("inference: {0}")]
    Candle(#[from] candle_core::Error),
    /// The prompt does not fit.
    #[error("the prompt has {tokens} tokens and the model's context holds {context}")]
    ContextLength {
        /// Tokens needed.
        tokens: usize,
        /// The context length.
        context: usize,
    },
}

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    /// Transformer blocks.
    pub n_layers: usize,
    /// Embedding width.
    pub dim: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Key/value heads (grouped-query attention).
    pub n_kv_heads: usize,
    /// Context length the model was trained for.
    pub context_length: usize,
    /// RMS-norm epsilon.
    pub rms_eps: f64,
    /// RoPE frequency base.
    pub rope_base: f32,
}

struct Layer {
    attn_norm: Tensor,
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

/// A loaded llama-family model.
pub struct LlamaModel {
    /// Its hyper-parameters.
    pub config: LlamaConfig,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template, if the file has one.
    pub chat_template: Option<String>,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

/// The token embedding table. A Q8_0 table stays quantized and only the rows
/// of the tokens at hand are dequantized (to f32, exactly as llama.cpp's
/// `get_rows` does): a dense f32 copy would add 113 MB for this model.
enum Embedding {
    Q8_0 { table: Arc<QTensor>, dim: usize, rows: usize },
    Dense(Tensor),
}

const Q8_0_BLOCK: usize = 32;
const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK;

impl Embedding {
    fn new(table: Arc<QTensor>, dim: usize, device: &Device) -> candle_core::Result<Embedding> {
        if table.dtype() == candle_core::quantized::GgmlDType::Q8_0 && dim.is_multiple_of(Q8_0_BLOCK) {
            let rows = table.shape().dims()[0];
            return Ok(Embedding::Q8_0 { table, dim, rows });
        }
        Ok(Embedding::Dense(table.dequantize(device)?))
    }

    fn lookup(&self, tokens: &[u32], device: &Device) -> Result<Tensor, ModelError> {
        match self {
            Embedding::Dense(table) => Ok(table.index_select(&Tensor::new(tokens, device)?, 0)?),
            Embedding::Q8_0 { table, dim, rows } => {
                let bytes = table.data()?;
                let row_bytes = dim / Q8_0_BLOCK * Q8_0_BLOCK_BYTES;
                let mut out = Vec::with_capacity(tokens.len() * dim);
                for &token in tokens {
                    let token = token as usize;
                    if token >= *rows {
                        return Err(ModelError::Candle(candle_core::Error::Msg(format!("token id {token} is outside the vocabulary of {rows}"))));
                    }
                    for block in bytes[token * row_bytes..(token + 1) * row_bytes].chunks_exact(Q8_0_BLOCK_BYTES) {
                        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                        out.extend(block[2..].iter().map(|&q| scale * f32::from(q as i8)));
                    }
                }
                Ok(Tensor::from_vec(out, (tokens.len(), *dim), device)?)
            }
        }
    }
}

/// The keys and values of one sequence so far.
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    /// Tokens cached.
    pub len: usize,
}

fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let mean_square = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(mean_square + eps)?.sqrt()?)?.broadcast_mul(weight)
}

fn softmax_last(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}

impl LlamaModel {
    /// Loads a GGUF file of the llama architecture.
    pub fn load(path: &Path) -> Result<LlamaModel, ModelError> {
        let shown = path.display().to_string();
        let unsupported = |reason: String| ModelError::Unsupported { path: shown.clone(), reason };
        let mut file = std::fs::File::open(path).map_err(|source| ModelError::Io { path: shown.clone(), source })?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| unsupported(format!("not a GGUF file: {e}")))?;
        let arch = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
        if arch != "llama" {
            return Err(unsupported(format!("architecture `{arch}` (vigie runs `llama`)")));
        }
        let get_u32 = |key: &str| -> Result<usize, ModelError> {
            content.metadata.get(key).and_then(|v| v.to_u32().ok()).map(|v| v as usize).ok_or_else(|| unsupported(format!("metadata `{key}` missing")))
        };
        let get_f32 = |key: &str, default: f32| content.metadata.get(key).and_then(|v| v.to_f32().ok()).unwrap_or(default);
        let config = LlamaConfig {
            n_layers: get_u32("llama.block_count")?,
            dim: get_u32("llama.embedding_length")?,
            n_heads: get_u32("llama.attention.head_count")?,
            n_kv_heads: get_u32("llama.attention.head_count_kv").or_else(|_| get_u32("llama.attention.head_count"))?,
            context_length: get_u32("llama.context_length")?,
            rms_eps: f64::from(get_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)),
            rope_base: get_f32("llama.rope.freq_base", 10_000.0),
        };
        let tokenizer = Tokenizer::from_gguf(&content).map_err(|source| ModelError::Tokenizer { path: shown.clone(), source })?;
        let chat_template = content.metadata.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
        let device = Device::Cpu;
        let mut tensor = |name: &str| -> Result<QTensor, ModelError> {
            content.tensor(&mut file, name, &device).map_err(|e| unsupported(format!("tensor `{name}`: {e}")))
        };
        let embed_q = Arc::new(tensor("token_embd.weight")?);
        let embed = Embedding::new(embed_q.clone(), config.dim, &device)?;
        let output = match tensor("output.weight") {
            Ok(t) => QMatMul::from_qtensor(t)?,
            // Tied embeddings: the output projection is the embedding matrix.
            Err(_) => QMatMul::from_arc(embed_q.clone())?,
        };
        let norm = tensor("output_norm.weight")?.dequantize(&device)?;
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            let mut q = |part: &str| -> Result<QMatMul, ModelError> { Ok(QMatMul::from_qtensor(tensor(&format!("blk.{i}.{part}.weight"))?)?) };
            let (wq, wk, wv, wo) = (q("attn_q")?, q("attn_k")?, q("attn_v")?, q("attn_output")?);
            let (gate, up, down) = (q("ffn_gate")?, q("ffn_up")?, q("ffn_down")?);
            let attn_norm = tensor(&format!("blk.{i}.attn_norm.weight"))?.dequantize(&device)?;
            let ffn_norm = tensor(&format!("blk.{i}.ffn_norm.weight"))?.dequantize(&device)?;
            layers.push(Layer { attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down });
        }
        let head_dim = config.dim / config.n_heads;
        let inv_freq: Vec<f32> = (0..head_dim / 2).map(|i| 1.0 / config.rope_base.powf(2.0 * i as f32 / head_dim as f32)).collect();
        let positions = config.context_length;
        let mut angles = Vec::with_capacity(positions * head_dim / 2);
        for p in 0..positions {
            angles.extend(inv_freq.iter().map(|f| p as f32 * f));
        }
        let angles = Tensor::from_vec(angles, (positions, head_dim / 2, 1), &device)?;
        Ok(LlamaModel { cos: angles.cos()?, sin: angles.sin()?, config, tokenizer, chat_template, embed, layers, norm, output, device })
    }

    /// An empty cache for a new sequence.
    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: (0..self.config.n_layers).map(|_| None).collect(), len: 0 }
    }

    /// Runs `tokens` (appended to what `cache` holds) and returns the logits
    /// at every new position, shape `[tokens, vocab]`.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor, ModelError> {
        let t = tokens.len();
        let start = cache.len;
        if start + t > self.config.context_length {
            return Err(ModelError::ContextLength { tokens: start + t, context: self.config.context_length });
        }
        let c = &self.config;
        let head_dim = c.dim / c.n_heads;
        let rep = c.n_heads / c.n_kv_heads;
        let mut x = self.embed.lookup(tokens, &self.device)?; // [t, dim]
        let cos = self.cos.narrow(0, start, t)?;
        let sin = self.sin.narrow(0, start, t)?;
        let mask = (t > 1).then(|| {
            let total = start + t;
            let values: Vec<f32> = (0..t).flat_map(|i| (0..total).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
            Tensor::from_vec(values, (t, total), &self.device)
        });
        let mask = mask.transpose()?;
        for (layer, slot) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let h = rms_norm(&x, &layer.attn_norm, c.rms_eps)?;
            let q = layer.wq.forward(&h)?.reshape((t, c.n_heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let k = layer.wk.forward(&h)?.reshape((t, c.n_kv_heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let v = layer.wv.forward(&h)?.reshape((t, c.n_kv_heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let q = rope(&q, &cos, &sin)?;
            let k = rope(&k, &cos, &sin)?;
            // llama.cpp keeps keys and values in f16 and multiplies in f16;
            // rounding the same way keeps greedy decoding on its path.
            let (q, k, v) = (round_f16(&q)?, round_f16(&k)?, round_f16(&v)?);
            let (k, v) = match slot.take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 1)?, Tensor::cat(&[&pv, &v], 1)?),
                None => (k, v),
            };
            *slot = Some((k.clone(), v.clone()));
            // Grouped-query attention: the `rep` query heads of a key/value head attend together.
            let q = q.reshape((c.n_kv_heads, rep * t, head_dim))?;
            let scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?; // [kv, rep*t, total]
            let scores = match &mask {
                Some(mask) => scores.reshape((c.n_kv_heads, rep, t, start + t))?.broadcast_add(mask)?.reshape((c.n_kv_heads, rep * t, start + t))?,
                None => scores,
            };
            let attended = round_f16(&softmax_last(&scores)?)?.matmul(&v)?; // [kv, rep*t, hd]
            let attended = attended.reshape((c.n_heads, t, head_dim))?.transpose(0, 1)?.reshape((t, c.dim))?;
            x = (x + layer.wo.forward(&attended)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, c.rms_eps)?;
            let ffn = (layer.gate.forward(&h)?.silu()? * layer.up.forward(&h)?)?;
            x = (x + layer.down.forward(&ffn)?)?;
        }
        cache.len += t;
        let x = rms_norm(&x, &self.norm, c.rms_eps)?;
        Ok(self.output.forward(&x)?.to_dtype(DType::F32)?)
    }
}

fn round_f16(x: &Tensor) -> candle_core::Result<Tensor> {
    x.to_dtype(DType::F16)?.to_dtype(DType::F32)
}

/// Rotary embedding, interleaved pairs (llama.cpp's GGUF layout): `x` is
/// `[heads, t, head_dim]`, `cos`/`sin` are `[t, head_dim/2, 1]`.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let (heads, t, head_dim) = x.dims3()?;
    let pairs = x.reshape((heads, t, head_dim / 2, 2))?;
    let x0 = pairs.narrow(3, 0, 1)?;
    let x1 = pairs.narrow(3, 1, 1)?;
    let r0 = (x0.broadcast_mul(cos)? - x1.broadcast_mul(sin)?)?;
    let r1 = (x0.broadcast_mul(sin)? + x1.broadcast_mul(cos)?)?;
    Tensor::cat(&[&r0, &r1], 3)?.reshape((heads, t, head_dim))
}
