//! The GGUF container: metadata key/values and tensor descriptions, read from
//! one file held in memory. Only the layout is interpreted here; what the
//! tensors mean is `llama.rs`'s business.

use std::collections::HashMap;
use std::path::Path;

/// Why a file is not a usable GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes do not follow the GGUF layout.
    #[error("{path}: not a valid GGUF file: {reason} (at byte {offset})")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
        /// Where.
        offset: usize,
    },
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any unsigned or signed integer type, widened.
    Int(i64),
    /// f32 or f64, widened.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array of values.
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned 32-bit integer, if it is a fitting integer.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Int(i) => u32::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The value as an f32, if it is a number.
    pub fn as_f32(&self) -> Option<f32> {
        match self {
            Value::Float(f) => Some(*f as f32),
            Value::Int(i) => Some(*i as f32),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// The element types vigie can run (ggml's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// Blocks of 32: f16 scale, f16 minimum, 32 4-bit values.
    Q4_1,
    /// Blocks of 32: f16 scale, 32 8-bit values.
    Q8_0,
    /// Anything else, by ggml's number.
    Other(u32),
}

impl TensorType {
    fn from_ggml(id: u32) -> TensorType {
        match id {
            0 => TensorType::F32,
            1 => TensorType::F16,
            3 => TensorType::Q4_1,
            8 => TensorType::Q8_0,
            other => TensorType::Other(other),
        }
    }

    /// ggml's name of the type (`Q4_K`), for messages.
    pub fn name(self) -> String {
        match self {
            TensorType::F32 => "F32".into(),
            TensorType::F16 => "F16".into(),
            TensorType::Q4_1 => "Q4_1".into(),
            TensorType::Q8_0 => "Q8_0".into(),
            TensorType::Other(id) => {
                const NAMES: [&str; 31] = [
                    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
                    "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64",
                    "F64", "IQ1_M", "BF16",
                ];
                NAMES
                    .get(id as usize)
                    .map_or_else(|| format!("ggml type {id}"), |n| (*n).to_string())
            }
        }
    }

    /// Bytes taken by `elements` values, if the type is known.
    pub fn bytes_for(self, elements: usize) -> Option<usize> {
        match self {
            TensorType::F32 => Some(elements * 4),
            TensorType::F16 => Some(elements * 2),
            TensorType::Q4_1 => elements.is_multiple_of(32).then(|| elements / 32 * 20),
            TensorType::Q8_0 => elements.is_multiple_of(32).then(|| elements / 32 * 34),
            TensorType::Other(id) => {
                let (values, bytes) = crate::dequant::block_layout(id)?;
                elements
                    .is_multiple_of(values)
                    .then(|| elements / values * bytes)
            }
        }
    }
}

/// Where a tensor lies in the file and what it holds.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// Dimensions, innermost first (ggml's order): `[columns, rows]` for a matrix.
    pub dims: Vec<usize>,
    /// Element type.
    pub kind: TensorType,
    /// Start of its data in [`GgufFile::bytes`].
    pub start: usize,
    /// Length of its data in bytes.
    pub len: usize,
}

/// A GGUF file, read whole.
pub struct GgufFile {
    /// Metadata by key.
    pub metadata: HashMap<String, Value>,
    /// Tensors by name.
    pub tensors: HashMap<String, TensorInfo>,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The file, for messages.
    pub path: String,
}

/// Metadata and tensors, as parsed.
type Layout = (HashMap<String, Value>, HashMap<String, TensorInfo>);

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("{n} bytes needed past the end of the file"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or_else(|| format!("length {n} is larger than the file"))
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }

    fn value(&mut self, kind: u32, depth: usize) -> Result<Value, String> {
        Ok(match kind {
            0 => Value::Int(i64::from(self.array::<1>()?[0])),
            1 => Value::Int(i64::from(self.array::<1>()?[0] as i8)),
            2 => Value::Int(i64::from(u16::from_le_bytes(self.array()?))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.array()?))),
            4 => Value::Int(i64::from(self.u32()?)),
            5 => Value::Int(i64::from(i32::from_le_bytes(self.array()?))),
            6 => Value::Float(f64::from(f32::from_le_bytes(self.array()?))),
            7 => Value::Bool(self.array::<1>()?[0] != 0),
            8 => Value::Str(self.string()?),
            9 if depth < 4 => {
                let inner = self.u32()?;
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    items.push(self.value(inner, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::Int(
                i64::try_from(self.u64()?).map_err(|_| "a u64 value exceeds i64".to_string())?,
            ),
            11 => Value::Int(i64::from_le_bytes(self.array()?)),
            12 => Value::Float(f64::from_le_bytes(self.array()?)),
            other => return Err(format!("unknown metadata value type {other}")),
        })
    }
}

impl GgufFile {
    /// Reads and parses a GGUF file.
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: shown.clone(),
            source,
        })?;
        GgufFile::parse(bytes, shown)
    }

    /// Parses a GGUF file's bytes; `path` names it in errors.
    pub fn parse(bytes: Vec<u8>, path: String) -> Result<GgufFile, GgufError> {
        let mut cursor = Cursor {
            bytes: &bytes,
            at: 0,
        };
        let parsed = Self::parse_layout(&mut cursor);
        let at = cursor.at;
        match parsed {
            Ok((metadata, tensors)) => Ok(GgufFile {
                metadata,
                tensors,
                bytes,
                path,
            }),
            Err(reason) => Err(GgufError::Format {
                path,
                reason,
                offset: at,
            }),
        }
    }

    fn parse_layout(c: &mut Cursor<'_>) -> Result<Layout, String> {
        if c.take(4)? != b"GGUF" {
            return Err("it does not start with `GGUF`".into());
        }
        let version = c.u32()?;
        if !(2..=3).contains(&version) {
            return Err(format!("GGUF version {version} (vigie reads 2 and 3)"));
        }
        let n_tensors = c.len()?;
        let n_kv = c.len()?;
        let mut metadata = HashMap::new();
        for _ in 0..n_kv {
            let key = c.string()?;
            let kind = c.u32()?;
            let value = c
                .value(kind, 0)
                .map_err(|e| format!("metadata `{key}`: {e}"))?;
            metadata.insert(key, value);
        }
        let mut infos = Vec::with_capacity(n_tensors.min(1 << 16));
        for _ in 0..n_tensors {
            let name = c.string()?;
            let n_dims = c.u32()? as usize;
            if n_dims > 4 {
                return Err(format!("tensor `{name}` has {n_dims} dimensions"));
            }
            let dims = (0..n_dims)
                .map(|_| c.len())
                .collect::<Result<Vec<_>, _>>()?;
            let kind = TensorType::from_ggml(c.u32()?);
            let offset = c.len()?;
            infos.push((name, dims, kind, offset));
        }
        let alignment = metadata
            .get("general.alignment")
            .and_then(Value::as_u32)
            .unwrap_or(32) as usize;
        if alignment == 0 {
            return Err("general.alignment is 0".into());
        }
        let data_start = c.at.div_ceil(alignment) * alignment;
        let mut tensors = HashMap::new();
        for (name, dims, kind, offset) in infos {
            let elements = dims
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| format!("tensor `{name}` is too large"))?;
            // Unknown types keep a zero length: they are rejected where used.
            let len = kind.bytes_for(elements).unwrap_or(0);
            let start = data_start
                .checked_add(offset)
                .filter(|s| s.checked_add(len).is_some_and(|e| e <= c.bytes.len()));
            let start =
                start.ok_or_else(|| format!("tensor `{name}` lies past the end of the file"))?;
            tensors.insert(
                name,
                TensorInfo {
                    dims,
                    kind,
                    start,
                    len,
                },
            );
        }
        Ok((metadata, tensors))
    }

    /// A tensor's description, by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    /// A tensor's bytes.
    pub fn data(&self, info: &TensorInfo) -> &[u8] {
        &self.bytes[info.start..info.start + info.len]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small GGUF file written by hand: `kv` metadata and one f32 tensor.
    pub(crate) fn write_gguf(
        kv: &[(&str, u32, Vec<u8>)],
        tensor: Option<(&str, &[usize], &[f32])>,
    ) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((tensor.is_some() as u64).to_le_bytes());
        out.extend((kv.len() as u64).to_le_bytes());
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        };
        for (key, kind, value) in kv {
            string(&mut out, key);
            out.extend(kind.to_le_bytes());
            out.extend(value);
        }
        if let Some((name, dims, values)) = tensor {
            string(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend((*d as u64).to_le_bytes());
            }
            out.extend(0u32.to_le_bytes());
            out.extend(0u64.to_le_bytes());
            while !out.len().is_multiple_of(32) {
                out.push(0);
            }
            for v in values {
                out.extend(v.to_le_bytes());
            }
        }
        out
    }

    /// A small GGUF file holding one tensor of any ggml type, given as raw bytes.
    pub(crate) fn write_gguf_raw(
        name: &str,
        dims: &[usize],
        ggml_type: u32,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = write_gguf(&[], Some((name, dims, &[])));
        // The type field sits just before the tensor's 8-byte offset and the padding.
        let at = 4 + 4 + 8 + 8 + 8 + name.len() + 4 + 8 * dims.len();
        out[at..at + 4].copy_from_slice(&ggml_type.to_le_bytes());
        out.extend_from_slice(data);
        // The reader takes any length larger than the file for damage, so
        // keep the file longer than the tensor's dimensions.
        out.resize(out.len() + dims.iter().sum::<usize>(), 0);
        out
    }

    fn str_value(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    #[test]
    fn reads_metadata_and_tensors() {
        let mut array = 8u32.to_le_bytes().to_vec();
        array.extend(2u64.to_le_bytes());
        array.extend(str_value("a"));
        array.extend(str_value("b c"));
        let bytes = write_gguf(
            &[
                ("general.architecture", 8, str_value("llama")),
                ("n", 4, 7u32.to_le_bytes().to_vec()),
                ("eps", 6, 0.5f32.to_le_bytes().to_vec()),
                ("list", 9, array),
            ],
            Some(("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        );
        let file = GgufFile::parse(bytes, "t.gguf".into()).unwrap();
        assert_eq!(
            file.metadata["general.architecture"].as_str(),
            Some("llama")
        );
        assert_eq!(file.metadata["n"].as_u32(), Some(7));
        assert_eq!(file.metadata["eps"].as_f32(), Some(0.5));
        let list: Vec<&str> = file.metadata["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(list, ["a", "b c"]);
        let w = file.tensor("w").unwrap();
        assert_eq!(
            (w.dims.as_slice(), w.kind, w.len),
            ([2usize, 3].as_slice(), TensorType::F32, 24)
        );
        assert_eq!(&file.data(w)[4..8], &2.0f32.to_le_bytes());
    }

    #[test]
    fn tensor_types_are_named_as_ggml_names_them() {
        assert_eq!(TensorType::from_ggml(12).name(), "Q4_K");
        assert_eq!(TensorType::from_ggml(2).name(), "Q4_0");
        assert_eq!(TensorType::from_ggml(3).name(), "Q4_1");
        assert_eq!(TensorType::from_ggml(99).name(), "ggml type 99");
    }

    #[test]
    fn damaged_files_are_rejected_with_a_reason_and_an_offset() {
        let err = GgufFile::parse(b"GGML\x03\0\0\0".to_vec(), "x.gguf".into())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("x.gguf") && err.contains("does not start with `GGUF`"),
            "{err}"
        );
        let mut bytes = write_gguf(
            &[("n", 4, 7u32.to_le_bytes().to_vec())],
            Some(("w", &[4], &[1.0; 4])),
        );
        bytes.truncate(bytes.len() - 4);
        let err = GgufFile::parse(bytes, "y.gguf".into())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("tensor `w` lies past the end of the file"),
            "{err}"
        );
        let bytes = write_gguf(&[("n", 42, vec![])], None);
        let err = GgufFile::parse(bytes, "z.gguf".into())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("metadata `n`: unknown metadata value type 42") && err.contains("at byte"),
            "{err}"
        );
    }
}
