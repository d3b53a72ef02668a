//! Seeded randomness. Every random choice in a run (choice shuffles, the
//! bootstrap) derives from the run's seed and a label, through ChaCha8, whose
//! output is fixed by its specification: the same log seed gives the same
//! shuffles and intervals on every machine and vigie version.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A generator for one purpose (`label`) of one run (`seed`).
pub fn seeded(seed: u64, label: &str) -> ChaCha8Rng {
    // FNV-1a folds the label into the seed; it only has to separate streams.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(seed ^ hash)
}

/// A permutation of `0..n` for one purpose of one run.
pub fn permutation(seed: u64, label: &str, n: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded(seed, label));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_reproducible_and_differ_by_label() {
        assert_eq!(permutation(7, "a", 10), permutation(7, "a", 10));
        assert_ne!(permutation(7, "a", 10), permutation(7, "b", 10));
        let mut sorted = permutation(7, "a", 10);
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
