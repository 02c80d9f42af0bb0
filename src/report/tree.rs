//! The entry tree: the one commitment the contract keeps for a pool instead of its entries, so a
//! report's storage cost does not grow with its wallets. Contracts that pick or pay on chain are
//! handed one entry with its proof, as Merkle distributors do; the entries themselves are in the
//! report's event.
//!
//! Leaf i is `keccak256(keccak256(abi.encode(entryHash_i, before_i)))`: the entry's EIP-712
//! hashStruct and the sum of the weights ahead of it, hashed twice so that no inner node (a hash of
//! 64 bytes) is also a leaf. Each level pairs neighbours left to right with the commutative keccak256
//! (smaller hash first); an odd last node rises unchanged. One leaf is its own root; no entries give
//! zero. `contracts/src/RevShare.sol` builds the same tree, and `RustVectors.t.sol` checks a root
//! from here against it.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolStruct, SolValue};

use super::abi;

/// An entry as the tree commits to it: what `pick` and `claim` take with a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryLeaf {
    /// keccak256 of the entry's wallet.
    pub wallet_hash: B256,
    /// The entry's weight.
    pub weight: U256,
    /// The entry's payee; zero for none.
    pub payee: Address,
    /// The sum of the weights of the entries ahead of it.
    pub before: U256,
}

impl EntryLeaf {
    /// The leaf hash (the contract's `leafOf`).
    pub fn hash(&self) -> B256 {
        let entry = abi::Entry {
            wallet: String::new(),
            weight: self.weight.to(),
            payee: self.payee,
        };
        leaf_hash(entry_hash(&entry, self.wallet_hash), self.before)
    }
}

/// The tree over one report's entries, every level kept so that any leaf's proof can be read off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTree {
    leaves: Vec<EntryLeaf>,
    /// `levels[0]` are the leaf hashes, the last level is the root alone.
    levels: Vec<Vec<B256>>,
}

impl EntryTree {
    /// The tree of `entries`, in their order.
    pub fn new(entries: &[abi::Entry]) -> Self {
        let mut before = U256::ZERO;
        let leaves: Vec<EntryLeaf> = entries
            .iter()
            .map(|entry| {
                let weight = U256::from(entry.weight);
                let leaf = EntryLeaf {
                    wallet_hash: keccak256(entry.wallet.as_bytes()),
                    weight,
                    payee: entry.payee,
                    before,
                };
                before += weight;
                leaf
            })
            .collect();
        let mut levels = vec![leaves.iter().map(EntryLeaf::hash).collect::<Vec<_>>()];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => commutative_hash(*left, *right),
                    [alone] => *alone,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            levels.push(above);
        }
        EntryTree { leaves, levels }
    }

    /// The root the contract keeps for the pool (`poolCommitment`); zero without entries.
    pub fn root(&self) -> B256 {
        self.levels
            .last()
            .and_then(|level| level.first())
            .copied()
            .unwrap_or(B256::ZERO)
    }

    /// Entry `index` as the tree commits to it, if there is one.
    pub fn leaf(&self, index: usize) -> Option<&EntryLeaf> {
        self.leaves.get(index)
    }

    /// The proof of entry `index`: its siblings, bottom-up, skipping levels where it rose alone.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        self.leaves.get(index)?;
        let mut position = index;
        let mut proof = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(position ^ 1) {
                proof.push(*sibling);
            }
            position /= 2;
        }
        Some(proof)
    }
}

/// Whether `proof` leads from `leaf` to `root` (as OpenZeppelin's `MerkleProof.verify`).
pub fn proves(root: B256, leaf: &EntryLeaf, proof: &[B256]) -> bool {
    proof.iter().fold(leaf.hash(), |node, sibling| {
        commutative_hash(node, *sibling)
    }) == root
}

/// The EIP-712 hashStruct of `entry` given its wallet's hash: the contract's `_entryHash`.
fn entry_hash(entry: &abi::Entry, wallet_hash: B256) -> B256 {
    keccak256(
        (
            entry.eip712_type_hash(),
            wallet_hash,
            entry.weight,
            entry.payee,
        )
            .abi_encode(),
    )
}

fn leaf_hash(entry_hash: B256, before: U256) -> B256 {
    keccak256(keccak256((entry_hash, before).abi_encode()))
}

fn commutative_hash(a: B256, b: B256) -> B256 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(low.as_slice());
    both[32..].copy_from_slice(high.as_slice());
    keccak256(both)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::aliases::U96;
    use proptest::prelude::*;

    use super::*;

    fn entry(i: usize, weight: u64) -> abi::Entry {
        abi::Entry {
            wallet: format!("https://w{i}.example/pay"),
            weight: U96::from(weight),
            payee: if i.is_multiple_of(2) {
                Address::repeat_byte(i as u8 + 1)
            } else {
                Address::ZERO
            },
        }
    }

    #[test]
    fn the_leaf_is_the_entrys_hash_struct_with_its_offset_hashed_twice() {
        let e = entry(0, 5);
        let tree = EntryTree::new(std::slice::from_ref(&e));
        let hash_struct = e.eip712_hash_struct();
        let expected = keccak256(keccak256((hash_struct, U256::ZERO).abi_encode()));
        assert_eq!(tree.root(), expected, "one leaf is its own root");
        assert_eq!(tree.proof(0), Some(vec![]));
    }

    #[test]
    fn no_entries_commit_to_zero() {
        let tree = EntryTree::new(&[]);
        assert_eq!(tree.root(), B256::ZERO);
        assert_eq!(tree.proof(0), None);
    }

    #[test]
    fn offsets_are_the_weights_ahead() {
        let entries = [entry(0, 3), entry(1, 4), entry(2, 5)];
        let tree = EntryTree::new(&entries);
        let befores: Vec<_> = (0..3).map(|i| tree.leaf(i).unwrap().before).collect();
        assert_eq!(befores, [U256::ZERO, U256::from(3), U256::from(7)]);
    }

    #[test]
    fn an_odd_last_node_rises_unchanged() {
        let entries = [entry(0, 1), entry(1, 1), entry(2, 1)];
        let tree = EntryTree::new(&entries);
        let l: Vec<_> = (0..3).map(|i| tree.leaf(i).unwrap().hash()).collect();
        let expected = commutative_hash(commutative_hash(l[0], l[1]), l[2]);
        assert_eq!(tree.root(), expected);
        assert_eq!(tree.proof(2), Some(vec![commutative_hash(l[0], l[1])]));
    }

    #[test]
    fn a_changed_leaf_does_not_prove() {
        let entries: Vec<_> = (0..5).map(|i| entry(i, i as u64 + 1)).collect();
        let tree = EntryTree::new(&entries);
        let proof = tree.proof(3).unwrap();
        let mut forged = tree.leaf(3).unwrap().clone();
        assert!(proves(tree.root(), &forged, &proof));
        forged.weight += U256::from(1);
        assert!(!proves(tree.root(), &forged, &proof));
    }

    proptest! {
        #[test]
        fn every_leaf_proves_against_the_root(
            weights in proptest::collection::vec(1u64..1_000, 1..70),
        ) {
            let entries: Vec<_> = weights.iter().enumerate().map(|(i, w)| entry(i, *w)).collect();
            let tree = EntryTree::new(&entries);
            for i in 0..entries.len() {
                let proof = tree.proof(i).unwrap();
                prop_assert!(proof.len() <= 7);
                prop_assert!(proves(tree.root(), tree.leaf(i).unwrap(), &proof));
            }
        }
    }
}
