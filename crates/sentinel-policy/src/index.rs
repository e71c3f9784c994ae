//! Narrows evaluation to the rules that can match a request.
//!
//! A rule can match user `u` only if it lists `u` or has no user condition (likewise for
//! profiles). For each of the two dimensions an index maps a name to the rules listing it, plus
//! the rules with no condition there; evaluation walks the shorter of the two candidate lists in
//! rule order. A 1,000-rule policy is then searched in a few lookups instead of a scan.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Which rules can match a name, for one dimension (users or profiles).
#[derive(Debug)]
pub(crate) struct NameIndex {
    /// For each name, in order, the rules that name it.
    named: HashMap<Box<str>, Box<[usize]>, BuildHasherDefault<NameHasher>>,
    /// In order, the rules without a condition on this dimension.
    any: Box<[usize]>,
}

impl NameIndex {
    /// Indexes rules by their name set on this dimension, given in rule order (`None`: any name).
    pub(crate) fn build<'r, I>(rules: I) -> NameIndex
    where
        I: IntoIterator<Item = Option<&'r [Box<str>]>>,
    {
        let mut named: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut any = Vec::new();
        for (index, names) in rules.into_iter().enumerate() {
            match names {
                Some(names) => {
                    for name in names {
                        named.entry(name).or_default().push(index);
                    }
                }
                None => any.push(index),
            }
        }
        NameIndex {
            named: named
                .into_iter()
                .map(|(name, rules)| (name.into(), rules.into_boxed_slice()))
                .collect(),
            any: any.into_boxed_slice(),
        }
    }

    /// The rules that can match `name`, in rule order.
    pub(crate) fn candidates(&self, name: &str) -> Candidates<'_> {
        let named = self.named.get(name).map_or(&[][..], |rules| &rules[..]);
        Candidates {
            named,
            any: &self.any,
        }
    }
}

/// A fast hash for short names (the multiply-rotate scheme of rustc's `FxHasher`).
///
/// The keys are the policy's own names, so a caller choosing a colliding name can only land
/// on the short chain of policy names sharing its hash, never grow the table.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        let mut tail = [0; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(SEED);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Rule indices from two ascending, disjoint lists, merged into one ascending sequence.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'a> {
    named: &'a [usize],
    any: &'a [usize],
}

impl Candidates<'_> {
    /// How many rules are left to try.
    pub(crate) fn len(&self) -> usize {
        self.named.len() + self.any.len()
    }
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let list = match (self.named.first(), self.any.first()) {
            (Some(a), Some(b)) if a < b => &mut self.named,
            (Some(_), Some(_)) | (None, Some(_)) => &mut self.any,
            (Some(_), None) => &mut self.named,
            (None, None) => return None,
        };
        let (&first, rest) = list.split_first()?;
        *list = rest;
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Box<[Box<str>]> {
        list.iter().map(|n| Box::from(*n)).collect()
    }

    #[test]
    fn candidates_merge_named_and_unconditioned_rules_in_rule_order() {
        let sets = [
            Some(names(&["alice"])),
            None,
            Some(names(&["bob"])),
            Some(names(&["alice", "bob"])),
            None,
        ];
        let index = NameIndex::build(sets.iter().map(|s| s.as_deref()));
        assert_eq!(index.candidates("alice").collect::<Vec<_>>(), [0, 1, 3, 4]);
        assert_eq!(index.candidates("bob").collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(index.candidates("carol").collect::<Vec<_>>(), [1, 4]);
        assert_eq!(index.candidates("alice").len(), 4);
    }
}
