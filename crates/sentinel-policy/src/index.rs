//! Narrows evaluation to the rules that can match a request.
//!
//! A rule can match user `u` only if it lists `u` or has no user condition (likewise for
//! profiles). For each of the two dimensions an index maps a name to the rules listing it, plus
//! the rules with no condition there; evaluation walks the shorter of the two candidate lists in
//! rule order. A 1,000-rule policy is then searched in a few lookups instead of a scan.

use std::collections::HashMap;

use foldhash::fast::RandomState;

/// Which rules can match a name, for one dimension (users or profiles).
#[derive(Debug)]
pub(crate) struct NameIndex {
    /// For each name, in order, the rules that name it. foldhash is several times quicker
    /// than SipHash on short names, and its per-process seed keeps callers from predicting
    /// collisions.
    named: HashMap<Box<str>, Box<[usize]>, RandomState>,
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
