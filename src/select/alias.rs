//! Walker–Vose alias table in exact integer arithmetic: O(1) weighted picks that can never come
//! back empty and never bias small weights.
//!
//! The anchors' `random × sum` walk over float weights can run off the end through rounding and
//! return nothing. Here every column has the integer capacity `W` (the total weight) and entry `i`
//! fills `w_i × n` of the `n × W` cells, so its probability is exactly `w_i / W`. A pick draws a
//! column and a cell with unbiased bounded draws (`random_range`), so exactness holds at the
//! randomness too.

use rand::Rng;

/// A prepared weighted choice among `n` items.
#[derive(Clone, Debug)]
pub struct AliasTable {
    /// Cells of column `i` below this threshold pick `i`; the rest pick `alias[i]`.
    threshold: Box<[u64]>,
    alias: Box<[u32]>,
    total: u64,
}

impl AliasTable {
    /// Builds the table; `None` when there is nothing to pick from.
    ///
    /// Weights must be non-zero and `len × max weight` must fit in 63 bits; the pool limits
    /// guarantee both for every table the service builds.
    pub fn new(weights: &[u64]) -> Option<Self> {
        let n = weights.len();
        if n == 0 {
            return None;
        }
        let count = n as u64;
        let total: u64 = weights.iter().sum();
        debug_assert!(weights.iter().all(|&w| w > 0), "weights are at least 1");
        let mut scaled: Vec<u64> = weights.iter().map(|&w| w * count).collect();
        let mut threshold = vec![total; n].into_boxed_slice();
        let mut alias: Box<[u32]> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < total);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            threshold[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= total - scaled[s];
            if scaled[l] < total {
                large.pop();
                small.push(l);
            }
        }
        // In exact arithmetic every column left over is exactly full: it always picks itself.
        Some(AliasTable {
            threshold,
            alias,
            total,
        })
    }

    /// Picks an index with probability `weight / total`.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let column = rng.random_range(0..self.threshold.len());
        let cell = rng.random_range(0..self.total);
        if cell < self.threshold[column] {
            column
        } else {
            self.alias[column] as usize
        }
    }

    /// How many items the table chooses among.
    pub fn len(&self) -> usize {
        self.threshold.len()
    }

    /// Always false: an empty table is never built.
    pub fn is_empty(&self) -> bool {
        self.threshold.is_empty()
    }

    /// The cells each item owns out of `len × total`: exactly `weight × len` when the table is
    /// right. Lets tests check exactness without sampling.
    pub fn cells_per_item(&self) -> Vec<u64> {
        let mut cells = vec![0u64; self.len()];
        for (column, (&threshold, &alias)) in
            self.threshold.iter().zip(self.alias.iter()).enumerate()
        {
            cells[column] += threshold;
            cells[alias as usize] += self.total - threshold;
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn empty_weights_build_no_table() {
        assert!(AliasTable::new(&[]).is_none());
    }

    #[test]
    fn a_single_entry_is_always_picked() {
        let table = AliasTable::new(&[7]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..1000).all(|_| table.pick(&mut rng) == 0));
    }

    #[test]
    fn a_tiny_weight_beside_a_huge_one_keeps_its_exact_share() {
        let table = AliasTable::new(&[1, u64::from(u32::MAX)]).unwrap();
        assert_eq!(table.cells_per_item(), vec![2, 2 * u64::from(u32::MAX)]);
    }

    proptest! {
        #[test]
        fn every_item_owns_exactly_its_weight_in_cells(weights in proptest::collection::vec(1u64..=1_000_000, 1..200)) {
            let table = AliasTable::new(&weights).unwrap();
            let n = weights.len() as u64;
            let expected: Vec<u64> = weights.iter().map(|w| w * n).collect();
            prop_assert_eq!(table.cells_per_item(), expected);
        }

        #[test]
        fn picks_stay_in_range(weights in proptest::collection::vec(1u64..=50, 1..50), seed in any::<u64>()) {
            let table = AliasTable::new(&weights).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..100 {
                prop_assert!(table.pick(&mut rng) < weights.len());
            }
        }
    }
}
