//! Hashing for the hot paths: one-shot xxh3 for content keys, and a small
//! word-at-a-time hasher (the Fx hash used by rustc) for in-memory maps
//! keyed by short strings, where SipHash's DoS resistance buys nothing
//! and a streaming xxh3 state costs more to set up than the key to hash.

use std::hash::{BuildHasherDefault, Hasher};

/// rustc's Fx hasher.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail as a little-endian word, zero-padded; folded in
            // registers, where a copy into a buffer was a call to memcpy.
            self.add(rest.iter().rev().fold(0, |w, &b| (w << 8) | u64::from(b)));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builder for maps keyed by short strings.
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A hash map with [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

/// A hash set with [`FxHasher`].
pub type FxHashSet<T> = std::collections::HashSet<T, FxBuildHasher>;

/// Hashes keys that are already xxh3 digests: passes them through.
#[derive(Default, Clone, Copy)]
pub struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with this; fold anything else.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// [`PrehashedHasher`]'s builder.
pub type PrehashedState = BuildHasherDefault<PrehashedHasher>;

/// One-shot xxh3 of `data`, seeded with `seed` (chain parts by passing the
/// previous digest as the seed). Unlike the streaming state, this reads the
/// bytes in place.
#[inline]
pub fn xxh3(data: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(data, seed)
}

/// Small integer ids for the names records are grouped by (models, regions,
/// identities), so that per-record group-bys hash integers, not strings.
///
/// Names are interned ([`crate::usage::parse::intern`]): records share one
/// allocation per name, mostly. A name is therefore looked up by its address
/// first, and by its text only the first time that address is seen; equal
/// texts at different addresses still get one id.
#[derive(Default)]
pub struct NameIds<'a> {
    last: Option<((usize, usize), u32)>,
    by_addr: FxHashMap<(usize, usize), u32>,
    by_text: FxHashMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> NameIds<'a> {
    /// The id of `name`: ids are given out 0, 1, 2, ... in order of first sight.
    #[inline]
    pub fn id(&mut self, name: &'a str) -> u32 {
        let addr = (name.as_ptr() as usize, name.len());
        if let Some((a, id)) = self.last
            && a == addr
        {
            return id;
        }
        let id = match self.by_addr.get(&addr) {
            Some(&id) => id,
            None => {
                let next = self.names.len() as u32;
                let id = *self.by_text.entry(name).or_insert(next);
                if id == next {
                    self.names.push(name);
                }
                self.by_addr.insert(addr, id);
                id
            }
        };
        self.last = Some((addr, id));
        id
    }

    /// The name with id `id`.
    pub fn name(&self, id: u32) -> &'a str {
        self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_hashes_as_its_zero_padded_little_endian_word() {
        let h = |b: &[u8]| {
            let mut h = FxHasher::default();
            h.write(b);
            h.finish()
        };
        let mut want = FxHasher::default();
        want.add(1);
        want.add(u64::from_le_bytes(*b"9abc\0\0\0\0"));
        assert_eq!(h(b"\x01\0\0\0\0\0\0\09abc"), want.finish());
        assert_ne!(h(b"9abc"), h(b"9abd"));
    }

    #[test]
    fn equal_names_at_different_addresses_share_one_id() {
        let a = String::from("us-east-1");
        let b = String::from("us-east-1");
        let c = String::from("eu-west-1");
        let mut ids = NameIds::default();
        assert_eq!([ids.id(&a), ids.id(&c), ids.id(&b), ids.id(&a), ids.id("")], [0, 1, 0, 0, 2]);
        assert_eq!((ids.name(0), ids.name(1), ids.name(2)), ("us-east-1", "eu-west-1", ""));
        // A prefix of a name starts at the same address: it is another name.
        assert_eq!(ids.id(&a[..2]), 3);
    }
}
