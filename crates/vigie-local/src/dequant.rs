//! Weights in quantizations that have no kernel of their own (Q4_0, Q5_0,
//! Q5_1 and the K-quants Q4_K, Q5_K, Q6_K): their blocks are expanded to
//! floats with ggml's formulas and re-quantized to Q8_0 once, at load, so the
//! Q8_0 kernels run them. That costs memory (34 bytes per 32 weights instead
//! of 18 to 26) and the last bits of precision, never a new kernel per type.

use half::f16;

/// ggml's type numbers this module expands.
const Q4_0: u32 = 2;
const Q5_0: u32 = 6;
const Q5_1: u32 = 7;
const Q4_K: u32 = 12;
const Q5_K: u32 = 13;
const Q6_K: u32 = 14;

/// Values per super-block of the K-quants.
const QK_K: usize = 256;

/// `(values per block, bytes per block)` of an expandable type.
pub fn block_layout(ggml_type: u32) -> Option<(usize, usize)> {
    match ggml_type {
        Q4_0 => Some((32, 18)),
        Q5_0 => Some((32, 22)),
        Q5_1 => Some((32, 24)),
        Q4_K => Some((QK_K, 144)),
        Q5_K => Some((QK_K, 176)),
        Q6_K => Some((QK_K, 210)),
        _ => None,
    }
}

fn half(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Appends the values of `bytes` (whole blocks of `ggml_type`) to `out`.
/// Panics on a type [`block_layout`] does not know (callers check first).
pub fn dequantize(ggml_type: u32, bytes: &[u8], out: &mut Vec<f32>) {
    let (_, block_bytes) = block_layout(ggml_type).expect("an expandable type");
    for b in bytes.chunks_exact(block_bytes) {
        match ggml_type {
            Q4_0 => {
                let d = half(b, 0);
                let qs = &b[2..18];
                out.extend(qs.iter().map(|q| d * ((q & 0x0F) as i32 - 8) as f32));
                out.extend(qs.iter().map(|q| d * ((q >> 4) as i32 - 8) as f32));
            }
            Q5_0 | Q5_1 => {
                let d = half(b, 0);
                let (min, at) = if ggml_type == Q5_1 {
                    (half(b, 2), 4)
                } else {
                    (0.0, 2)
                };
                let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                let qs = &b[at + 4..at + 20];
                for i in 0..32 {
                    let low = if i < 16 {
                        qs[i] & 0x0F
                    } else {
                        qs[i - 16] >> 4
                    };
                    let q = u32::from(low) | ((qh >> i) & 1) << 4;
                    out.push(if ggml_type == Q5_1 {
                        d * q as f32 + min
                    } else {
                        d * (q as i32 - 16) as f32
                    });
                }
            }
            Q4_K | Q5_K => {
                let (d, dmin) = (half(b, 0), half(b, 2));
                let (sc, mins) = scale_min_k4(&b[4..16]);
                let (qh, qs) = if ggml_type == Q5_K {
                    (Some(&b[16..48]), &b[48..176])
                } else {
                    (None, &b[16..144])
                };
                for j in 0..8 {
                    let (scale, offset) = (d * f32::from(sc[j]), dmin * f32::from(mins[j]));
                    let chunk = &qs[(j / 2) * 32..(j / 2) * 32 + 32];
                    for l in 0..32 {
                        let mut q = if j % 2 == 0 {
                            chunk[l] & 0x0F
                        } else {
                            chunk[l] >> 4
                        };
                        if let Some(qh) = qh {
                            q |= ((qh[l] >> j) & 1) << 4;
                        }
                        out.push(scale * f32::from(q) - offset);
                    }
                }
            }
            Q6_K => {
                let (ql, qh, scales) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = half(b, 208);
                for h in 0..2 {
                    for g in 0..4 {
                        for l in 0..32 {
                            let low = ql[h * 64 + (g % 2) * 32 + l];
                            let low = if g < 2 { low & 0x0F } else { low >> 4 };
                            let high = (qh[h * 32 + l] >> (2 * g)) & 3;
                            let q = i32::from(low | (high << 4)) - 32;
                            let index = h * 128 + g * 32 + l;
                            out.push(d * f32::from(scales[index / 16] as i8) * q as f32);
                        }
                    }
                }
            }
            other => unreachable!("ggml type {other} has no expansion"),
        }
    }
}

/// The eight 6-bit scales and minimums packed in a K-quant's 12 bytes.
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut mins) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 0x3F;
        mins[j] = s[j + 4] & 0x3F;
        sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 2) & 0x30);
        mins[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
    (sc, mins)
}

/// Quantizes a row (a multiple of 32 values) to Q8_0 blocks as ggml's
/// reference does: per block, `d = max|x| / 127` and `q = round(x / d)`.
pub fn quantize_q8_0(row: &[f32], out: &mut Vec<u8>) {
    for block in row.chunks_exact(32) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks and their values as ggml's own Python package (gguf-py)
    /// expands them: `bench/dequant_fixture.py`.
    #[test]
    fn expansions_equal_ggml_reference_values() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/dequant.json")).unwrap();
        let mut checked = 0;
        for case in fixture["cases"].as_array().unwrap() {
            let ggml_type = case["type"].as_u64().unwrap() as u32;
            let hex = case["bytes"].as_str().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let expected: Vec<f32> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let mut got = Vec::new();
            dequantize(ggml_type, &bytes, &mut got);
            assert_eq!(got.len(), expected.len(), "type {ggml_type}");
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-6 * e.abs().max(1.0),
                    "type {ggml_type}, value {i}: {g} vs {e}"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 6 * 3, "three blocks of each of the six types");
    }

    #[test]
    fn q8_0_requantization_is_close_and_shaped_like_ggml() {
        let row: Vec<f32> = (0..64).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let mut bytes = Vec::new();
        quantize_q8_0(&row, &mut bytes);
        assert_eq!(bytes.len(), 2 * 34);
        let d = half(&bytes, 0);
        for (i, v) in row[..32].iter().enumerate() {
            let q = bytes[2 + i] as i8;
            // d is stored in half precision, so the rounding bound widens by its error.
            assert!((f32::from(q) * d - v).abs() <= d * 0.5 + 127.0 * d * 1e-3);
        }
        let mut zeros = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut zeros);
        assert!(zeros.iter().all(|&b| b == 0));
    }
}
