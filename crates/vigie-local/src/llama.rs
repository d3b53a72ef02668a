//! The llama architecture, run on vigie's own kernels: GGUF weights stay
//! quantized in memory and are multiplied in place ([`crate::kernels`]),
//! several sequences go through each step together (one pass over the
//! weights serves them all), and the matrix products are split across the
//! CPU's cores. Each sequence keeps its keys and values in a [`KvCache`].
//!
//! The arithmetic follows llama.cpp's CPU path where it decides the result:
//! activations quantized per block before each product, keys, values and
//! attention weights rounded to f16, RMS norm summed in f64, RoPE angles
//! built by repeated multiplication.

use std::path::Path;
use std::sync::Mutex;

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::dequant;
use crate::gguf::{GgufError, GgufFile, TensorInfo, TensorType, Value};
use crate::kernels::{self, BlockQ8, QK};
use crate::team::Team;
use crate::tokenizer::{Tokenizer, TokenizerError};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read or is not GGUF.
    #[error(transparent)]
    File(#[from] GgufError),
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
    /// A token id outside the vocabulary.
    #[error("token id {token} is outside the vocabulary of {vocab}")]
    TokenId {
        /// The id.
        token: u32,
        /// Vocabulary size.
        vocab: usize,
    },
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
    pub rms_eps: f32,
    /// RoPE frequency base.
    pub rope_base: f32,
    /// Vocabulary size (rows of the output projection).
    pub vocab: usize,
}

impl LlamaConfig {
    fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }

    fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim()
    }
}

/// A weight matrix of `rows` outputs by `cols` inputs, quantized rows in the
/// file's bytes or dense f32 rows.
struct Matrix {
    rows: usize,
    cols: usize,
    data: MatrixData,
}

enum MatrixData {
    /// Q4_1 or Q8_0 rows: `start` of the first row in the file's bytes.
    Quantized {
        kind: TensorType,
        start: usize,
        row_bytes: usize,
    },
    /// Rows of another quantization, expanded and re-quantized to Q8_0 at load.
    Converted { row_bytes: usize, data: Vec<u8> },
    /// Any float type, converted at load.
    Dense(Vec<f32>),
}

impl Matrix {
    fn from_tensor(file: &GgufFile, name: &str, info: &TensorInfo) -> Result<Matrix, String> {
        let [cols, rows] = info.dims[..] else {
            return Err(format!("tensor `{name}` is not a matrix"));
        };
        if cols == 0 || rows == 0 {
            return Err(format!(
                "tensor `{name}` has a zero dimension ({cols} × {rows})"
            ));
        }
        let data = match info.kind {
            TensorType::Q4_1 | TensorType::Q8_0 if cols.is_multiple_of(QK) => {
                MatrixData::Quantized { kind: info.kind, start: info.start, row_bytes: info.len / rows }
            }
            TensorType::F32 | TensorType::F16 => MatrixData::Dense(floats(file, name, info)?),
            TensorType::Other(id) if cols.is_multiple_of(QK) && dequant::block_layout(id).is_some_and(|(values, _)| cols.is_multiple_of(values)) => {
                let source = file.data(info);
                let source_row = source.len() / rows;
                let row_bytes = cols / QK * 34;
                let mut data = Vec::with_capacity(rows * row_bytes);
                let mut values = Vec::with_capacity(cols);
                for row in source.chunks_exact(source_row) {
                    values.clear();
                    dequant::dequantize(id, row, &mut values);
                    dequant::quantize_q8_0(&values, &mut data);
                }
                MatrixData::Converted { row_bytes, data }
            }
            other => {
                return Err(format!(
                    "tensor `{name}` has type {}; vigie runs F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K weights",
                    other.name()
                ))
            }
        };
        Ok(Matrix { rows, cols, data })
    }

    /// Output row `o`, wherever it is held.
    #[inline]
    fn row<'a>(&'a self, file: &'a [u8], o: usize) -> Row<'a> {
        match &self.data {
            MatrixData::Quantized {
                kind,
                start,
                row_bytes,
            } => {
                let bytes = &file[start + o * row_bytes..start + (o + 1) * row_bytes];
                if *kind == TensorType::Q4_1 {
                    Row::Q4_1(bytes)
                } else {
                    Row::Q8_0(bytes)
                }
            }
            MatrixData::Converted { row_bytes, data } => {
                Row::Q8_0(&data[o * row_bytes..(o + 1) * row_bytes])
            }
            MatrixData::Dense(w) => Row::Dense(&w[o * self.cols..(o + 1) * self.cols]),
        }
    }

    /// `y = W·x` for one output row `o` and one activation row.
    #[inline]
    fn dot(&self, bytes: &[u8], o: usize, x: &[f32], q: &[BlockQ8]) -> f32 {
        match self.row(bytes, o) {
            Row::Q4_1(row) => kernels::dot_q4_1(row, q),
            Row::Q8_0(row) => kernels::dot_q8_0(row, q),
            Row::Dense(w) => w.iter().zip(x).map(|(a, b)| a * b).sum(),
        }
    }
}

/// A kernel taking one weight row against four activation rows.
type DotX4 = fn(&[u8], [&[BlockQ8]; 4]) -> [f32; 4];

/// One output row of a matrix, in the form its kernel takes.
enum Row<'a> {
    Q4_1(&'a [u8]),
    Q8_0(&'a [u8]),
    Dense(&'a [f32]),
}

fn floats(file: &GgufFile, name: &str, info: &TensorInfo) -> Result<Vec<f32>, String> {
    let bytes = file.data(info);
    match info.kind {
        TensorType::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        TensorType::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        other => Err(format!(
            "tensor `{name}` has type {} where floats were expected",
            other.name()
        )),
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    /// Query, key and value projections, multiplied as one.
    qkv: [Matrix; 3],
    wo: Matrix,
    ffn_norm: Vec<f32>,
    /// Gate and up projections, multiplied as one.
    gate_up: [Matrix; 2],
    down: Matrix,
}

/// A loaded llama-family model.
pub struct LlamaModel {
    /// Its hyper-parameters.
    pub config: LlamaConfig,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template, if the file has one.
    pub chat_template: Option<String>,
    file: GgufFile,
    embed: Matrix,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Matrix,
    /// The threads that share each product of a step.
    team: Team,
}

/// The keys and values of one sequence so far, rounded to f16 as
/// llama.cpp's cache holds them: per layer, `[position][kv head][head dim]`.
#[derive(Clone)]
pub struct KvCache {
    keys: Vec<Vec<f16>>,
    values: Vec<Vec<f16>>,
    /// Tokens cached.
    pub len: usize,
}

/// One sequence's share of a batched step.
pub struct Step<'a> {
    /// The sequence's cache; the tokens are appended to it.
    pub cache: &'a mut KvCache,
    /// New tokens.
    pub tokens: &'a [u32],
    /// Logits at every new position (true) or only the last (false).
    pub all_logits: bool,
}

impl LlamaModel {
    /// Loads a GGUF file of the llama architecture.
    pub fn load(path: &Path) -> Result<LlamaModel, ModelError> {
        let file = GgufFile::open(path)?;
        let shown = file.path.clone();
        let unsupported = |reason: String| ModelError::Unsupported {
            path: shown.clone(),
            reason,
        };
        let arch = file
            .metadata
            .get("general.architecture")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if arch != "llama" {
            return Err(unsupported(format!(
                "architecture `{arch}` (vigie runs `llama`)"
            )));
        }
        let get_u32 = |key: &str| -> Result<usize, ModelError> {
            file.metadata
                .get(key)
                .and_then(Value::as_u32)
                .map(|v| v as usize)
                .ok_or_else(|| unsupported(format!("metadata `{key}` missing")))
        };
        let get_f32 = |key: &str, default: f32| {
            file.metadata
                .get(key)
                .and_then(Value::as_f32)
                .unwrap_or(default)
        };
        let tokenizer = Tokenizer::from_gguf(&file).map_err(|source| ModelError::Tokenizer {
            path: shown.clone(),
            source,
        })?;
        let tensor = |name: &str| {
            file.tensor(name)
                .ok_or_else(|| unsupported(format!("tensor `{name}` missing")))
        };
        let matrix =
            |name: &str| Matrix::from_tensor(&file, name, tensor(name)?).map_err(unsupported);
        let vector = |name: &str| floats(&file, name, tensor(name)?).map_err(unsupported);
        let embed = matrix("token_embd.weight")?;
        let config = LlamaConfig {
            n_layers: get_u32("llama.block_count")?,
            dim: get_u32("llama.embedding_length")?,
            n_heads: get_u32("llama.attention.head_count")?,
            n_kv_heads: get_u32("llama.attention.head_count_kv")
                .or_else(|_| get_u32("llama.attention.head_count"))?,
            context_length: get_u32("llama.context_length")?,
            rms_eps: get_f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
            rope_base: get_f32("llama.rope.freq_base", 10_000.0),
            vocab: embed.rows,
        };
        if config.n_heads == 0
            || config.n_kv_heads == 0
            || !config.dim.is_multiple_of(config.n_heads)
            || !config.n_heads.is_multiple_of(config.n_kv_heads)
            || !config.head_dim().is_multiple_of(2)
        {
            return Err(unsupported(format!(
                "{} heads and {} key/value heads do not divide a width of {} into heads of an even size",
                config.n_heads, config.n_kv_heads, config.dim
            )));
        }
        // Sizes from the metadata are checked against the tensors before
        // anything is allocated from them: a damaged count must not become
        // an allocation of that size.
        if embed.cols != config.dim {
            return Err(unsupported(format!(
                "token_embd.weight is {} wide but llama.embedding_length is {}",
                embed.cols, config.dim
            )));
        }
        if tokenizer.vocab_size() != config.vocab {
            return Err(unsupported(format!(
                "the vocabulary has {} tokens but token_embd.weight has {} rows",
                tokenizer.vocab_size(),
                config.vocab
            )));
        }
        if config.n_layers == 0 || config.n_layers > file.tensors.len() {
            return Err(unsupported(format!(
                "llama.block_count is {} but the file holds {} tensors",
                config.n_layers,
                file.tensors.len()
            )));
        }
        if config.context_length == 0 {
            return Err(unsupported("llama.context_length is 0".into()));
        }
        let output = match file.tensor("output.weight") {
            Some(_) => matrix("output.weight")?,
            // Tied embeddings: the output projection is the embedding matrix.
            None => matrix("token_embd.weight")?,
        };
        if output.rows != config.vocab || output.cols != config.dim {
            return Err(unsupported(format!(
                "output.weight is {} × {}, not the vocabulary ({}) by the width ({})",
                output.rows, output.cols, config.vocab, config.dim
            )));
        }
        let vector_of_width = |name: &str| -> Result<Vec<f32>, ModelError> {
            let values = vector(name)?;
            if values.len() != config.dim {
                return Err(unsupported(format!(
                    "tensor `{name}` has {} values, not the width {}",
                    values.len(),
                    config.dim
                )));
            }
            Ok(values)
        };
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            let m = |part: &str| matrix(&format!("blk.{i}.{part}.weight"));
            let layer = Layer {
                attn_norm: vector_of_width(&format!("blk.{i}.attn_norm.weight"))?,
                qkv: [m("attn_q")?, m("attn_k")?, m("attn_v")?],
                wo: m("attn_output")?,
                ffn_norm: vector_of_width(&format!("blk.{i}.ffn_norm.weight"))?,
                gate_up: [m("ffn_gate")?, m("ffn_up")?],
                down: m("ffn_down")?,
            };
            let kv = config.kv_dim();
            let shapes_fit = layer.qkv[0].rows == config.dim
                && layer.qkv[1].rows == kv
                && layer.qkv[2].rows == kv
                && layer
                    .qkv
                    .iter()
                    .chain(&layer.gate_up)
                    .all(|w| w.cols == config.dim)
                && layer.wo.cols == config.dim
                && layer.wo.rows == config.dim
                && layer.gate_up[1].rows == layer.gate_up[0].rows
                && layer.down.cols == layer.gate_up[0].rows
                && layer.down.rows == config.dim;
            if !shapes_fit {
                return Err(unsupported(format!(
                    "block {i}: weight shapes do not fit the metadata"
                )));
            }
            layers.push(layer);
        }
        let chat_template = file
            .metadata
            .get("tokenizer.chat_template")
            .and_then(Value::as_str)
            .map(str::to_string);
        let norm = vector_of_width("output_norm.weight")?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(LlamaModel {
            config,
            tokenizer,
            chat_template,
            embed,
            layers,
            norm,
            output,
            file,
            team: Team::new(threads),
        })
    }

    /// An empty cache for a new sequence.
    pub fn new_cache(&self) -> KvCache {
        KvCache {
            keys: vec![Vec::new(); self.config.n_layers],
            values: vec![Vec::new(); self.config.n_layers],
            len: 0,
        }
    }

    /// Runs `tokens` after what `cache` holds; the logits at the last position.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>, ModelError> {
        let mut out = self.forward_batch(&mut [Step {
            cache,
            tokens,
            all_logits: false,
        }])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Runs `tokens` after what `cache` holds; the logits at every new
    /// position, `tokens.len() × vocab` values.
    pub fn forward_all(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>, ModelError> {
        let mut out = self.forward_batch(&mut [Step {
            cache,
            tokens,
            all_logits: true,
        }])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// One step for several sequences at once. Returns, per step, the logits
    /// it asked for (`vocab` values per position). Nothing is appended to any
    /// cache unless the whole step succeeds.
    pub fn forward_batch(&self, steps: &mut [Step<'_>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let c = &self.config;
        let (dim, hd, kv_dim) = (c.dim, c.head_dim(), c.kv_dim());
        for step in steps.iter() {
            let needed = step.cache.len + step.tokens.len();
            if needed > c.context_length {
                return Err(ModelError::ContextLength {
                    tokens: needed,
                    context: c.context_length,
                });
            }
            if let Some(&token) = step.tokens.iter().find(|&&t| t as usize >= c.vocab) {
                return Err(ModelError::TokenId {
                    token,
                    vocab: c.vocab,
                });
            }
        }
        // Row r of the batch: which step, and its position in that sequence.
        let rows: Vec<(usize, usize)> = steps
            .iter()
            .enumerate()
            .flat_map(|(s, step)| (0..step.tokens.len()).map(move |i| (s, step.cache.len + i)))
            .collect();
        let n = rows.len();
        if n == 0 {
            return Ok(steps.iter().map(|_| Vec::new()).collect());
        }
        let tokens: Vec<u32> = steps
            .iter()
            .flat_map(|s| s.tokens.iter().copied())
            .collect();
        let mut x = self.embed_rows(&tokens);
        let rope = rope_table(rows.iter().map(|r| r.1), hd, c.rope_base);
        let mut h = vec![0.0f32; n * dim];
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, c.rms_eps, &mut h);
            let qkv = self.matmul(&layer.qkv, &h, n);
            let width = dim + 2 * kv_dim;
            // Rotate queries and keys, round to f16, append keys and values.
            let mut q = vec![0.0f32; n * dim];
            for r in 0..n {
                let row = &qkv[r * width..(r + 1) * width];
                q[r * dim..(r + 1) * dim].copy_from_slice(&row[..dim]);
                apply_rope(&mut q[r * dim..(r + 1) * dim], &rope[r], hd);
            }
            let mut first = 0;
            for step in steps.iter_mut() {
                let t = step.tokens.len();
                for r in first..first + t {
                    let row = &qkv[r * width..(r + 1) * width];
                    let mut k = row[dim..dim + kv_dim].to_vec();
                    apply_rope(&mut k, &rope[r], hd);
                    step.cache.keys[l].extend(k.iter().map(|&v| f16::from_f32(v)));
                    step.cache.values[l]
                        .extend(row[dim + kv_dim..].iter().map(|&v| f16::from_f32(v)));
                }
                first += t;
            }
            let attended = self.attention(l, steps, &rows, &q);
            let projected = self.matmul(std::slice::from_ref(&layer.wo), &attended, n);
            x.iter_mut().zip(&projected).for_each(|(a, b)| *a += b);
            rms_norm(&x, &layer.ffn_norm, c.rms_eps, &mut h);
            let gate_up = self.matmul(&layer.gate_up, &h, n);
            let ff = layer.gate_up[0].rows;
            let mut act = vec![0.0f32; n * ff];
            let act_rows: Vec<Mutex<&mut [f32]>> =
                act.chunks_exact_mut(ff).map(Mutex::new).collect();
            self.team.run(n, &|r| {
                let row = &gate_up[r * 2 * ff..(r + 1) * 2 * ff];
                for (i, out) in act_rows[r]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter_mut()
                    .enumerate()
                {
                    let g = row[i];
                    *out = g / (1.0 + kernels::exp_approx(-g)) * row[ff + i];
                }
            });
            drop(act_rows);
            let down = self.matmul(std::slice::from_ref(&layer.down), &act, n);
            x.iter_mut().zip(&down).for_each(|(a, b)| *a += b);
        }
        // Logits only where asked: the last position of each step, or all.
        let mut wanted = Vec::new();
        let mut first = 0;
        for step in steps.iter() {
            let t = step.tokens.len();
            if step.all_logits {
                wanted.extend(first..first + t);
            } else if t > 0 {
                wanted.push(first + t - 1);
            }
            first += t;
        }
        let picked: Vec<f32> = wanted
            .iter()
            .flat_map(|&r| x[r * dim..(r + 1) * dim].iter().copied())
            .collect();
        let mut normed = vec![0.0f32; picked.len()];
        rms_norm(&picked, &self.norm, c.rms_eps, &mut normed);
        let logits = self.matmul(std::slice::from_ref(&self.output), &normed, wanted.len());
        let mut out = Vec::with_capacity(steps.len());
        let mut at = 0;
        for step in steps.iter_mut() {
            let t = step.tokens.len();
            step.cache.len += t;
            let k = if step.all_logits {
                t
            } else {
                usize::from(t > 0)
            };
            out.push(logits[at * c.vocab..(at + k) * c.vocab].to_vec());
            at += k;
        }
        Ok(out)
    }

    fn embed_rows(&self, tokens: &[u32]) -> Vec<f32> {
        let dim = self.config.dim;
        let mut out = Vec::with_capacity(tokens.len() * dim);
        for &token in tokens {
            let t = token as usize;
            match self.embed.row(&self.file.bytes, t) {
                Row::Q4_1(row) => kernels::dequantize_row(true, row, &mut out),
                Row::Q8_0(row) => kernels::dequantize_row(false, row, &mut out),
                Row::Dense(w) => out.extend_from_slice(w),
            }
        }
        out
    }

    /// `x` is `n` rows of `cols`; the result is `n` rows of the matrices'
    /// outputs side by side. The activations are quantized once for all.
    fn matmul(&self, mats: &[Matrix], x: &[f32], n: usize) -> Vec<f32> {
        let cols = mats[0].cols;
        let blocks = cols / QK;
        let mut q = vec![
            BlockQ8::default();
            if cols.is_multiple_of(QK) {
                n * blocks
            } else {
                0
            }
        ];
        if !q.is_empty() {
            let rows: Vec<Mutex<&mut [BlockQ8]>> =
                q.chunks_exact_mut(blocks).map(Mutex::new).collect();
            self.team.run(n, &|r| {
                kernels::quantize_q8(
                    &x[r * cols..(r + 1) * cols],
                    &mut rows[r].lock().unwrap_or_else(|e| e.into_inner()),
                )
            });
        }
        let total: usize = mats.iter().map(|m| m.rows).sum();
        // Output-major, so each task writes one contiguous run.
        let mut out_t = vec![0.0f32; total * n];
        // A few tasks per thread: enough to balance, few enough that
        // splitting costs nothing next to the products.
        let rows_per_task = total.div_ceil(4 * self.team.threads()).max(16);
        let bytes = &self.file.bytes;
        let chunks: Vec<Mutex<&mut [f32]>> = out_t
            .chunks_mut(rows_per_task * n)
            .map(Mutex::new)
            .collect();
        self.team.run(chunks.len(), &|task| {
            let mut chunk = chunks[task].lock().unwrap_or_else(|e| e.into_inner());
            for (k, cells) in chunk.chunks_exact_mut(n).enumerate() {
                let mut o = task * rows_per_task + k;
                let mut m = &mats[0];
                for candidate in mats {
                    m = candidate;
                    if o < m.rows {
                        break;
                    }
                    o -= m.rows;
                }
                let act = |r: usize| {
                    if q.is_empty() {
                        &[][..]
                    } else {
                        &q[r * blocks..(r + 1) * blocks]
                    }
                };
                let mut r = 0;
                // Four activation rows per pass over a quantized weight row.
                let quantized: Option<(&[u8], DotX4)> = match m.row(bytes, o) {
                    Row::Q4_1(row) => Some((row, kernels::dot_q4_1_x4)),
                    Row::Q8_0(row) => Some((row, kernels::dot_q8_0_x4)),
                    Row::Dense(_) => None,
                };
                if let Some((row, four)) = quantized {
                    while r + 4 <= n {
                        cells[r..r + 4].copy_from_slice(&four(
                            row,
                            [act(r), act(r + 1), act(r + 2), act(r + 3)],
                        ));
                        r += 4;
                    }
                }
                for (r, cell) in cells.iter_mut().enumerate().skip(r) {
                    *cell = m.dot(bytes, o, &x[r * cols..(r + 1) * cols], act(r));
                }
            }
        });
        if n == 1 {
            return out_t;
        }
        let mut out = vec![0.0f32; total * n];
        for (o, cells) in out_t.chunks_exact(n).enumerate() {
            for (r, v) in cells.iter().enumerate() {
                out[r * total + o] = *v;
            }
        }
        out
    }

    /// Causal attention of each row's query over its own sequence's cache.
    ///
    /// The sums follow llama.cpp's f16 products exactly, because attention
    /// is where last-bit differences turn into different tokens: with two
    /// or more new tokens it uses tinyBLAS (16 lanes, each taking every 16th
    /// term), with one its vector dot product (four 16-lane accumulators per
    /// 64 terms); both end in AVX-512's reduction tree. Softmax uses its
    /// exponential, and the key/value length is padded to 256 as its cache
    /// pads it (the padding only adds zeros).
    fn attention(
        &self,
        layer: usize,
        steps: &[Step<'_>],
        rows: &[(usize, usize)],
        q: &[f32],
    ) -> Vec<f32> {
        let c = &self.config;
        let (dim, hd, kv_dim) = (c.dim, c.head_dim(), c.kv_dim());
        let rep = c.n_heads / c.n_kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut out = vec![0.0f32; rows.len() * dim];
        // One task per (row, key/value head): its query heads' outputs are
        // contiguous, and a one-token step still spreads over the cores.
        let groups = c.n_kv_heads;
        let parts: Vec<Mutex<&mut [f32]>> = out.chunks_mut(rep * hd).map(Mutex::new).collect();
        self.team.run(parts.len(), &|task| {
            let mut group_out = parts[task].lock().unwrap_or_else(|e| e.into_inner());
            let (r, g) = (task / groups, task % groups);
            let (s, pos) = rows[r];
            let span = pos + 1;
            // This key/value head's vectors for positions 0..span, widened
            // to f32 once for the task's query heads (exact: f16 fits in f32).
            let widen = |half: &[f16]| {
                let mut wide = vec![0.0f32; span * hd];
                for (j, dst) in wide.chunks_exact_mut(hd).enumerate() {
                    half[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd].convert_to_f32_slice(dst);
                }
                wide
            };
            let (keys, values) = (
                widen(&steps[s].cache.keys[layer]),
                widen(&steps[s].cache.values[layer]),
            );
            let key = |j: usize| &keys[j * hd..(j + 1) * hd];
            let value = |j: usize| &values[j * hd..(j + 1) * hd];
            let single = steps[s].tokens.len() == 1;
            let mut weights = vec![0.0f32; span];
            let mut qh = vec![0.0f32; hd];
            // [accumulator][lane][output]: four accumulators for the vector
            // dot product, one for tinyBLAS.
            let mut acc = vec![0.0f32; 4 * 16 * hd];
            for head in g * rep..(g + 1) * rep {
                // The query is rounded to f16, as for llama.cpp's f16 product.
                for (dst, &v) in qh
                    .iter_mut()
                    .zip(&q[r * dim + head * hd..r * dim + (head + 1) * hd])
                {
                    *dst = f16::from_f32(v).to_f32();
                }
                for (j, w) in weights.iter_mut().enumerate() {
                    let k = key(j);
                    let mut lanes = [[0.0f32; 16]; 4];
                    for (i, (kc, qc)) in k.chunks_exact(16).zip(qh.chunks_exact(16)).enumerate() {
                        let a = if single { i % 4 } else { 0 };
                        for l in 0..16 {
                            lanes[a][l] += kc[l] * qc[l];
                        }
                    }
                    *w = reduce_accumulators(&lanes, single) * scale;
                }
                let max = weights.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                weights
                    .iter_mut()
                    .for_each(|w| *w = kernels::exp_approx(*w - max));
                let sum: f64 = weights
                    .chunks(16)
                    .map(|chunk| {
                        let mut lanes = [0.0f32; 16];
                        lanes[..chunk.len()].copy_from_slice(chunk);
                        f64::from(reduce16(lanes))
                    })
                    .sum();
                let inv = (1.0 / sum) as f32;
                // Only the accumulators that positions reach are used.
                let used = if single { span.div_ceil(16).min(4) } else { 1 };
                acc[..used * 16 * hd].fill(0.0);
                for (j, w) in weights.iter().enumerate() {
                    let v = value(j);
                    let w = f16::from_f32(w * inv).to_f32();
                    let a = if single { (j % 64) / 16 } else { 0 };
                    let at = (a * 16 + j % 16) * hd;
                    acc[at..at + hd]
                        .iter_mut()
                        .zip(v)
                        .for_each(|(a, v)| *a += w * v);
                }
                // The same folds as `reduce_accumulators`, for all outputs at once.
                if single && used > 1 {
                    let block = 16 * hd;
                    for i in 0..block {
                        let at = |a: usize| if a < used { acc[a * block + i] } else { 0.0 };
                        let folded = (acc[i] + at(2)) + (at(1) + at(3));
                        acc[i] = folded;
                    }
                }
                for half in [8, 4] {
                    for i in 0..half * hd {
                        acc[i] += acc[half * hd + i];
                    }
                }
                let local = head - g * rep;
                for (d, dst) in group_out[local * hd..(local + 1) * hd]
                    .iter_mut()
                    .enumerate()
                {
                    *dst = (acc[d] + acc[2 * hd + d]) + (acc[hd + d] + acc[3 * hd + d]);
                }
            }
        });
        out
    }
}

/// The dot product's result from its accumulators: ggml's vector dot
/// product folds four (0+2, 1+3, then the two), tinyBLAS has one.
fn reduce_accumulators(lanes: &[[f32; 16]; 4], four: bool) -> f32 {
    if !four {
        return reduce16(lanes[0]);
    }
    reduce16(std::array::from_fn(|l| {
        (lanes[0][l] + lanes[2][l]) + (lanes[1][l] + lanes[3][l])
    }))
}

/// RMS norm of each row of `x` times `weight`, into `out`.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    for (row, dst) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let sum: f64 = row.iter().map(|&v| f64::from(v * v)).sum();
        let mean = (sum / dim as f64) as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((d, &v), &w) in dst.iter_mut().zip(row).zip(weight) {
            *d = (v * scale) * w;
        }
    }
}

/// `(cos, sin)` per rotated pair for each position.
fn rope_table(
    positions: impl Iterator<Item = usize>,
    head_dim: usize,
    base: f32,
) -> Vec<Vec<(f32, f32)>> {
    let theta_scale = base.powf(-2.0 / head_dim as f32);
    positions
        .map(|p| {
            let mut theta = p as f32;
            (0..head_dim / 2)
                .map(|_| {
                    let pair = (theta.cos(), theta.sin());
                    theta *= theta_scale;
                    pair
                })
                .collect()
        })
        .collect()
}

/// Rotates adjacent pairs of every head of `x` (GGUF's llama layout).
fn apply_rope(x: &mut [f32], table: &[(f32, f32)], head_dim: usize) {
    for head in x.chunks_exact_mut(head_dim) {
        for (pair, &(cos, sin)) in head.chunks_exact_mut(2).zip(table) {
            let (x0, x1) = (pair[0], pair[1]);
            // Fused as the C compiler fuses llama.cpp's `x0*cos - x1*sin`:
            // one rounding fewer, and the bits that decide f16 rounding later.
            pair[0] = x0.mul_add(cos, -(x1 * sin));
            pair[1] = x0.mul_add(sin, x1 * cos);
        }
    }
}

/// The id of the largest logit (the first, on ties): greedy decoding.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// The sum of 16 lanes in the order GCC reduces an AVX-512 register.
fn reduce16(l: [f32; 16]) -> f32 {
    let t8: [f32; 8] = std::array::from_fn(|i| l[i + 8] + l[i]);
    let t4: [f32; 4] = std::array::from_fn(|i| t8[i + 4] + t8[i]);
    (t4[0] + t4[2]) + (t4[1] + t4[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::tests::write_gguf_raw;

    fn fixture_block(name: &str) -> (u32, Vec<u8>, Vec<f32>) {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/dequant.json")).unwrap();
        let case = fixture["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        let hex = case["bytes"].as_str().unwrap();
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let values = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        (case["type"].as_u64().unwrap() as u32, bytes, values)
    }

    #[test]
    fn k_quant_weights_are_expanded_to_q8_0_at_load_and_multiply_as_expected() {
        let (ggml_type, bytes, values) = fixture_block("Q4_K");
        let file = GgufFile::parse(
            write_gguf_raw("w", &[256, 1], ggml_type, &bytes),
            "k.gguf".into(),
        )
        .unwrap();
        let matrix = Matrix::from_tensor(&file, "w", file.tensor("w").unwrap()).unwrap();
        assert!(matches!(
            matrix.data,
            MatrixData::Converted { row_bytes: 272, .. }
        ));
        let x: Vec<f32> = (0..256).map(|i| ((i as f32) * 0.1).cos()).collect();
        let mut q = vec![BlockQ8::default(); 8];
        kernels::quantize_q8(&x, &mut q);
        let got = matrix.dot(&file.bytes, 0, &x, &q);
        let exact: f32 = values.iter().zip(&x).map(|(w, x)| w * x).sum();
        let scale: f32 = values.iter().zip(&x).map(|(w, x)| (w * x).abs()).sum();
        assert!(
            (got - exact).abs() <= 0.02 * scale,
            "{got} vs {exact} (scale {scale})"
        );
    }

    #[test]
    fn quantizations_without_a_path_are_refused_by_name() {
        // Q2_K (ggml type 10): no expansion.
        let file = GgufFile::parse(
            write_gguf_raw("w", &[256, 1], 10, &[0u8; 84]),
            "q2.gguf".into(),
        )
        .unwrap();
        let err = Matrix::from_tensor(&file, "w", file.tensor("w").unwrap())
            .err()
            .unwrap();
        assert!(
            err.contains("tensor `w` has type Q2_K") && err.contains("Q4_K, Q5_K and Q6_K"),
            "{err}"
        );
    }
}
