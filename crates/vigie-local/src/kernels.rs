//! Quantized dot products and activation quantization, with llama.cpp's
//! arithmetic: activations are quantized to 8 bits per block of 32 (Q8_1 for
//! Q4_1 weights, Q8_0 for Q8_0 weights), integer products are summed exactly,
//! and the float accumulation runs in the same eight lanes and the same
//! order as its x86 AVX2 kernels, so that greedy decoding follows it token
//! for token instead of drifting by a rounding here and there.
//!
//! Each kernel has a portable version that computes the identical result;
//! the AVX2 one is used when the build targets it (`.cargo/config.toml`).
//! A unit test holds the two to bit-for-bit equality.

use half::f16;

/// Values per quantization block.
pub const QK: usize = 32;
/// Bytes of one Q4_1 block: f16 scale, f16 minimum, 16 bytes of nibbles.
pub const Q4_1_BYTES: usize = 20;
/// Bytes of one Q8_0 block: f16 scale, 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;

/// One block of quantized activations. `d` and `s` hold the f16-rounded
/// values as f32, so the dot products need no conversions.
#[derive(Debug, Clone, Copy)]
pub struct BlockQ8 {
    /// Scale.
    pub d: f32,
    /// `d` times the sum of `qs` (used by Q4_1's minimum).
    pub s: f32,
    /// The quantized values.
    pub qs: [i8; QK],
}

impl Default for BlockQ8 {
    fn default() -> BlockQ8 {
        BlockQ8 {
            d: 0.0,
            s: 0.0,
            qs: [0; QK],
        }
    }
}

fn f16_round(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Quantizes `x` (a multiple of 32 long) into `out`, one block per 32 values:
/// scale = max |x| / 127, values rounded half to even.
pub fn quantize_q8(x: &[f32], out: &mut [BlockQ8]) {
    debug_assert_eq!(x.len(), out.len() * QK);
    for (chunk, block) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let max = chunk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = max / 127.0;
        let id = if max != 0.0 { 127.0 / max } else { 0.0 };
        let mut sum = 0i32;
        for (q, v) in block.qs.iter_mut().zip(chunk) {
            let r = (v * id).round_ties_even() as i32;
            sum += r;
            *q = r.clamp(-128, 127) as i8;
        }
        block.d = f16_round(d);
        block.s = f16_round(d * sum as f32);
    }
}

/// Appends the values of one quantized row (Q4_1 if `q4_1`, else Q8_0) to `out`.
pub fn dequantize_row(q4_1: bool, row: &[u8], out: &mut Vec<f32>) {
    if q4_1 {
        for block in row.chunks_exact(Q4_1_BYTES) {
            let (d, m) = (f16_at(block, 0), f16_at(block, 2));
            out.extend(block[4..].iter().map(|&b| f32::from(b & 0x0F) * d + m));
            out.extend(block[4..].iter().map(|&b| f32::from(b >> 4) * d + m));
        }
    } else {
        for block in row.chunks_exact(Q8_0_BYTES) {
            let d = f16_at(block, 0);
            out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
        }
    }
}

/// e^x as llama.cpp's CPU backend computes it for SiLU and softmax (its
/// vectorized form of the expf of Arm's optimized-routines, MIT-licensed):
/// `x = n·ln2 + b`, a degree-5 polynomial in `b`, scaled by 2^n. Within
/// 1.5 ulp of the true value; using it, rather than the libm exp, is what
/// keeps the last bits, and so greedy decoding, equal to llama.cpp's.
pub fn exp_approx(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23
    let z = x.mul_add(LOG2_E, SHIFT);
    let n = z - SHIFT;
    let b = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    if n.abs() > 192.0 {
        return if n > 0.0 { f32::INFINITY } else { 0.0 };
    }
    let u = b * b;
    let j = P5
        .mul_add(b, P4)
        .mul_add(u, P3.mul_add(b, P2))
        .mul_add(u, P1.mul_add(b, 1.0));
    // 2^n exactly, in two steps so that n down to -192 stays representable.
    let half = (n / 2.0).trunc();
    j * pow2(half) * pow2(n - half)
}

// The constants, as hex floats in the comments.
const LOG2_E: f32 = f32::from_bits(0x3fb8aa3b); // 0x1.715476p+0
const LN2_HI: f32 = f32::from_bits(0x3f317200); // 0x1.62e4p-1
const LN2_LO: f32 = f32::from_bits(0x35bfbe8e); // 0x1.7f7d1cp-20
const P5: f32 = f32::from_bits(0x3c072010); // 0x1.0e4020p-7
const P4: f32 = f32::from_bits(0x3d2b9f17); // 0x1.573e2ep-5
const P3: f32 = f32::from_bits(0x3e2aaf33); // 0x1.555e66p-3
const P2: f32 = f32::from_bits(0x3efffedb); // 0x1.fffdb6p-2
const P1: f32 = f32::from_bits(0x3f7ffff6); // 0x1.ffffecp-1

fn pow2(n: f32) -> f32 {
    f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// llama.cpp's final reduction of eight lanes.
fn hsum8(acc: [f32; 8]) -> f32 {
    let a = [
        acc[4] + acc[0],
        acc[5] + acc[1],
        acc[6] + acc[2],
        acc[7] + acc[3],
    ];
    (a[0] + a[2]) + (a[1] + a[3])
}

/// Portable Q4_1 row · Q8_1 activations.
pub fn dot_q4_1_portable(row: &[u8], act: &[BlockQ8]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut summs = 0.0f32;
    for (block, a) in row.chunks_exact(Q4_1_BYTES).zip(act) {
        let d0 = f16_at(block, 0);
        let m = f16_at(block, 2);
        summs += m * a.s;
        let d0d1 = d0 * a.d;
        let nibbles = &block[4..];
        for (lane, slot) in acc.iter_mut().enumerate() {
            let mut sum = 0i32;
            for j in lane * 4..lane * 4 + 4 {
                let x = if j < 16 {
                    nibbles[j] & 0x0F
                } else {
                    nibbles[j - 16] >> 4
                };
                sum += i32::from(x) * i32::from(a.qs[j]);
            }
            *slot = d0d1.mul_add(sum as f32, *slot);
        }
    }
    hsum8(acc) + summs
}

/// Portable Q8_0 row · Q8_0 activations.
pub fn dot_q8_0_portable(row: &[u8], act: &[BlockQ8]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (block, a) in row.chunks_exact(Q8_0_BYTES).zip(act) {
        let d = f16_at(block, 0) * a.d;
        for (lane, slot) in acc.iter_mut().enumerate() {
            let sum: i32 = (lane * 4..lane * 4 + 4)
                .map(|j| i32::from(block[2 + j] as i8) * i32::from(a.qs[j]))
                .sum();
            *slot = d.mul_add(sum as f32, *slot);
        }
    }
    hsum8(acc)
}

/// Q4_1 row · Q8_1 activations, the fastest way this build allows.
#[inline]
pub fn dot_q4_1(row: &[u8], act: &[BlockQ8]) -> f32 {
    assert_eq!(row.len(), act.len() * Q4_1_BYTES);
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))]
    // SAFETY: this build targets AVX2, FMA and F16C (the `cfg` above), so every
    // CPU it runs on has them.
    #[allow(unsafe_code)]
    unsafe {
        avx2::dot_q4_1(row, act)
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )))]
    {
        dot_q4_1_portable(row, act)
    }
}

/// Q8_0 row · Q8_0 activations, the fastest way this build allows.
#[inline]
pub fn dot_q8_0(row: &[u8], act: &[BlockQ8]) -> f32 {
    assert_eq!(row.len(), act.len() * Q8_0_BYTES);
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))]
    // SAFETY: this build targets AVX2, FMA and F16C (the `cfg` above), so every
    // CPU it runs on has them.
    #[allow(unsafe_code)]
    unsafe {
        avx2::dot_q8_0(row, act)
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )))]
    {
        dot_q8_0_portable(row, act)
    }
}

/// Four dot products of one Q4_1 row with four activation rows at once (the
/// weights are unpacked once): each result equals [`dot_q4_1`]'s bit for bit.
#[inline]
pub fn dot_q4_1_x4(row: &[u8], acts: [&[BlockQ8]; 4]) -> [f32; 4] {
    for act in acts {
        assert_eq!(row.len(), act.len() * Q4_1_BYTES);
    }
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))]
    // SAFETY: as in `dot_q4_1`.
    #[allow(unsafe_code)]
    unsafe {
        avx2::dot_q4_1_x4(row, acts)
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )))]
    {
        acts.map(|act| dot_q4_1_portable(row, act))
    }
}

/// Four dot products of one Q8_0 row with four activation rows at once: each
/// result equals [`dot_q8_0`]'s bit for bit.
#[inline]
pub fn dot_q8_0_x4(row: &[u8], acts: [&[BlockQ8]; 4]) -> [f32; 4] {
    for act in acts {
        assert_eq!(row.len(), act.len() * Q8_0_BYTES);
    }
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))]
    // SAFETY: as in `dot_q8_0`.
    #[allow(unsafe_code)]
    unsafe {
        avx2::dot_q8_0_x4(row, acts)
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )))]
    {
        acts.map(|act| dot_q8_0_portable(row, act))
    }
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
))]
#[allow(unsafe_code)]
mod avx2 {
    //! The AVX2 kernels. Every load reads inside a slice whose length the
    //! caller asserted (`row.len() == act.len() * block bytes`).
    use std::arch::x86_64::*;

    use super::{BlockQ8, Q4_1_BYTES, Q8_0_BYTES};

    /// Two f16 at the start of `block` (Q4_1's scale and minimum) as f32,
    /// converted in one instruction.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn two_f16(block: &[u8]) -> (f32, f32) {
        let bits = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        let v = _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32));
        (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(acc: __m256) -> f32 {
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds eight f32s.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        super::hsum8(lanes)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot_q4_1(row: &[u8], act: &[BlockQ8]) -> f32 {
        let ones = _mm256_set1_epi16(1);
        let low = _mm256_set1_epi8(0x0F);
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0.0f32;
        for (block, a) in row.chunks_exact(Q4_1_BYTES).zip(act) {
            let (d0, m) = two_f16(block);
            summs += m * a.s;
            let d0d1 = _mm256_set1_ps(d0 * a.d);
            // SAFETY: `block` has 20 bytes, the nibbles are its last 16;
            // `a.qs` has 32 bytes.
            let (packed, qy) = unsafe {
                (
                    _mm_loadu_si128(block.as_ptr().add(4).cast()),
                    _mm256_loadu_si256(a.qs.as_ptr().cast()),
                )
            };
            let qx = _mm256_and_si256(low, _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed));
            let products = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(qx, qy));
            acc = _mm256_fmadd_ps(d0d1, _mm256_cvtepi32_ps(products), acc);
        }
        hsum(acc) + summs
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot_q4_1_x4(row: &[u8], acts: [&[BlockQ8]; 4]) -> [f32; 4] {
        let ones = _mm256_set1_epi16(1);
        let low = _mm256_set1_epi8(0x0F);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut summs = [0.0f32; 4];
        for (b, block) in row.chunks_exact(Q4_1_BYTES).enumerate() {
            let (d0, m) = two_f16(block);
            // SAFETY: `block` has 20 bytes, the nibbles are its last 16.
            let packed = unsafe { _mm_loadu_si128(block.as_ptr().add(4).cast()) };
            let qx = _mm256_and_si256(low, _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed));
            for r in 0..4 {
                let a = &acts[r][b];
                summs[r] += m * a.s;
                // SAFETY: `a.qs` has 32 bytes.
                let qy = unsafe { _mm256_loadu_si256(a.qs.as_ptr().cast()) };
                let products = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(qx, qy));
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d0 * a.d),
                    _mm256_cvtepi32_ps(products),
                    acc[r],
                );
            }
        }
        std::array::from_fn(|r| hsum(acc[r]) + summs[r])
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot_q8_0_x4(row: &[u8], acts: [&[BlockQ8]; 4]) -> [f32; 4] {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); 4];
        for (b, block) in row.chunks_exact(Q8_0_BYTES).enumerate() {
            let d0 = two_f16(block).0;
            // SAFETY: `block` has 34 bytes, the values are its last 32.
            let qx = unsafe { _mm256_loadu_si256(block.as_ptr().add(2).cast()) };
            let ax = _mm256_sign_epi8(qx, qx);
            for r in 0..4 {
                let a = &acts[r][b];
                // SAFETY: `a.qs` has 32 bytes.
                let qy = unsafe { _mm256_loadu_si256(a.qs.as_ptr().cast()) };
                let products =
                    _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ax, _mm256_sign_epi8(qy, qx)));
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d0 * a.d),
                    _mm256_cvtepi32_ps(products),
                    acc[r],
                );
            }
        }
        std::array::from_fn(|r| hsum(acc[r]))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot_q8_0(row: &[u8], act: &[BlockQ8]) -> f32 {
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_ps();
        for (block, a) in row.chunks_exact(Q8_0_BYTES).zip(act) {
            let d = _mm256_set1_ps(two_f16(block).0 * a.d);
            // SAFETY: `block` has 34 bytes, the values are its last 32; `a.qs` has 32.
            let (qx, qy) = unsafe {
                (
                    _mm256_loadu_si256(block.as_ptr().add(2).cast()),
                    _mm256_loadu_si256(a.qs.as_ptr().cast()),
                )
            };
            let ax = _mm256_sign_epi8(qx, qx);
            let sy = _mm256_sign_epi8(qy, qx);
            let products = _mm256_madd_epi16(ones, _mm256_maddubs_epi16(ax, sy));
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(products), acc);
        }
        hsum(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_rows(rng: &mut impl Rng, blocks: usize, block_bytes: usize) -> Vec<u8> {
        let mut row = vec![0u8; blocks * block_bytes];
        for block in row.chunks_exact_mut(block_bytes) {
            rng.fill(block);
            // Sensible f16 scales (random bits could be NaN or huge).
            block[..2].copy_from_slice(&f16::from_f32(rng.random_range(0.001..0.05)).to_le_bytes());
            if block_bytes == Q4_1_BYTES {
                block[2..4]
                    .copy_from_slice(&f16::from_f32(rng.random_range(-0.2..0.0)).to_le_bytes());
            }
        }
        row
    }

    #[test]
    fn quantization_rounds_half_to_even_and_keeps_the_sum() {
        let mut x = vec![0.0f32; 32];
        x[0] = 127.0;
        x[1] = 2.5; // exactly halfway: rounds to 2, not 3
        x[2] = -3.5; // rounds to -4
        x[3] = 0.4;
        let mut out = [BlockQ8::default()];
        quantize_q8(&x, &mut out);
        assert_eq!(&out[0].qs[..4], &[127, 2, -4, 0]);
        assert_eq!(out[0].d, 1.0);
        assert_eq!(out[0].s, 125.0);
        let mut zero = [BlockQ8::default()];
        quantize_q8(&[0.0; 32], &mut zero);
        assert_eq!((zero[0].d, zero[0].qs), (0.0, [0; 32]));
    }

    #[test]
    fn simd_kernels_equal_the_portable_ones_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for blocks in [1, 18, 48] {
            let x: Vec<f32> = (0..blocks * QK)
                .map(|_| rng.random_range(-3.0..3.0))
                .collect();
            let mut act = vec![BlockQ8::default(); blocks];
            quantize_q8(&x, &mut act);
            let q4 = random_rows(&mut rng, blocks, Q4_1_BYTES);
            let q8 = random_rows(&mut rng, blocks, Q8_0_BYTES);
            assert_eq!(
                dot_q4_1(&q4, &act).to_bits(),
                dot_q4_1_portable(&q4, &act).to_bits()
            );
            assert_eq!(
                dot_q8_0(&q8, &act).to_bits(),
                dot_q8_0_portable(&q8, &act).to_bits()
            );
            let others: Vec<Vec<BlockQ8>> = (0..3)
                .map(|_| {
                    let x: Vec<f32> = (0..blocks * QK)
                        .map(|_| rng.random_range(-3.0..3.0))
                        .collect();
                    let mut act = vec![BlockQ8::default(); blocks];
                    quantize_q8(&x, &mut act);
                    act
                })
                .collect();
            let four = dot_q4_1_x4(&q4, [&act, &others[0], &others[1], &others[2]]);
            let four8 = dot_q8_0_x4(&q8, [&act, &others[0], &others[1], &others[2]]);
            for ((got, got8), act) in four
                .iter()
                .zip(&four8)
                .zip([&act, &others[0], &others[1], &others[2]])
            {
                assert_eq!(got.to_bits(), dot_q4_1_portable(&q4, act).to_bits());
                assert_eq!(got8.to_bits(), dot_q8_0_portable(&q8, act).to_bits());
            }
        }
    }

    #[test]
    fn dot_products_approximate_the_float_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f32> = (0..64).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut act = vec![BlockQ8::default(); 2];
        quantize_q8(&x, &mut act);
        let q4 = random_rows(&mut rng, 2, Q4_1_BYTES);
        let weights: Vec<f32> = q4
            .chunks_exact(Q4_1_BYTES)
            .flat_map(|b| {
                let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                (0..32).map(move |j| {
                    d * f32::from(if j < 16 {
                        b[4 + j] & 15
                    } else {
                        b[4 + j - 16] >> 4
                    }) + m
                })
            })
            .collect();
        let exact: f32 = weights.iter().zip(&x).map(|(w, v)| w * v).sum();
        let got = dot_q4_1(&q4, &act);
        assert!(
            (got - exact).abs() < 0.02 * exact.abs().max(1.0),
            "{got} vs {exact}"
        );
    }
}
