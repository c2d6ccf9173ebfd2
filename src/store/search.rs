//! The in-memory search structure over perceptual hashes: "every hash
//! within Hamming distance d of h".
//!
//! Multi-index hashing (Norouzi et al., 2012): each 64-bit hash is cut into
//! four 16-bit chunks and each chunk value indexes a table. Two hashes within
//! distance d differ by at most ⌊d/4⌋ bits in at least one chunk
//! (pigeonhole), so a query looks up, in each table, the chunk values within
//! ⌊d/4⌋ bits of its own (17 lookups per table for d ≤ 7, 137 for d ≤ 11)
//! and checks only the hashes found there. For larger d the candidate sets
//! grow towards the whole index and a linear popcount scan is used instead.
//! `benches/search.rs` measures both on 1,000,000 random hashes; see
//! BENCHMARKS.md.

use crate::phash::PHash;

const CHUNKS: usize = 4;
const BUCKETS: usize = 1 << 16;
/// Above this radius per chunk, probing costs more than scanning.
const MAX_CHUNK_RADIUS: u32 = 2;

/// One chunk's table, in compressed-sparse-row form: the positions whose
/// chunk value is `v` are `items[offsets[v]..offsets[v + 1]]`.
struct Table {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

/// Hashes with their owners' ids, searchable by Hamming distance.
pub struct HashIndex {
    hashes: Vec<u64>,
    ids: Vec<i64>,
    tables: Vec<Table>,
    /// Added after the tables were built; scanned linearly until the next rebuild.
    extra: Vec<(i64, u64)>,
}

fn chunk(h: u64, c: usize) -> usize {
    ((h >> (16 * c)) & 0xFFFF) as usize
}

/// Every 16-bit mask with at most `r` bits set (r ≤ 2), zero first.
fn masks(r: u32) -> Vec<u16> {
    let mut out = vec![0u16];
    if r >= 1 {
        out.extend((0..16).map(|i| 1u16 << i));
    }
    if r >= 2 {
        for i in 0..16 {
            for j in i + 1..16 {
                out.push((1u16 << i) | (1u16 << j));
            }
        }
    }
    out
}

impl HashIndex {
    /// Builds the index (counting sort per chunk: O(n), no hashing).
    pub fn new(entries: Vec<(i64, PHash)>) -> HashIndex {
        let (ids, hashes): (Vec<i64>, Vec<u64>) = entries.into_iter().map(|(id, h)| (id, h.0)).unzip();
        let tables = (0..CHUNKS)
            .map(|c| {
                let mut offsets = vec![0u32; BUCKETS + 1];
                for &h in &hashes {
                    offsets[chunk(h, c) + 1] += 1;
                }
                for v in 0..BUCKETS {
                    offsets[v + 1] += offsets[v];
                }
                let mut fill = offsets.clone();
                let mut items = vec![0u32; hashes.len()];
                for (pos, &h) in hashes.iter().enumerate() {
                    let slot = &mut fill[chunk(h, c)];
                    items[*slot as usize] = pos as u32;
                    *slot += 1;
                }
                Table { offsets, items }
            })
            .collect();
        HashIndex { hashes, ids, tables, extra: Vec::new() }
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.hashes.len() + self.extra.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one hash (searched linearly until the index is rebuilt).
    pub fn push(&mut self, id: i64, h: PHash) {
        self.extra.push((id, h.0));
        if self.extra.len() > 4096 {
            let mut all: Vec<(i64, PHash)> = self.ids.iter().zip(&self.hashes).map(|(&i, &h)| (i, PHash(h))).collect();
            all.extend(self.extra.drain(..).map(|(i, h)| (i, PHash(h))));
            *self = HashIndex::new(all);
        }
    }

    /// Every (id, distance) within `d` bits of `h`, nearest first (then by id).
    pub fn within(&self, h: PHash, d: u32) -> Vec<(i64, u32)> {
        let mut out = Vec::new();
        let r = d / CHUNKS as u32;
        if r > MAX_CHUNK_RADIUS {
            self.scan(h, d, &mut out);
        } else {
            self.probe(h, d, r, &mut out);
        }
        for &(id, x) in &self.extra {
            let dist = (x ^ h.0).count_ones();
            if dist <= d {
                out.push((id, dist));
            }
        }
        out.sort_unstable_by_key(|&(id, dist)| (dist, id));
        out
    }

    /// The same answer by a linear popcount scan (the baseline the benches compare).
    pub fn within_linear(&self, h: PHash, d: u32) -> Vec<(i64, u32)> {
        let mut out = Vec::new();
        self.scan(h, d, &mut out);
        out.extend(self.extra.iter().map(|&(id, x)| (id, (x ^ h.0).count_ones())).filter(|&(_, dist)| dist <= d));
        out.sort_unstable_by_key(|&(id, dist)| (dist, id));
        out
    }

    fn scan(&self, h: PHash, d: u32, out: &mut Vec<(i64, u32)>) {
        for (pos, &x) in self.hashes.iter().enumerate() {
            let dist = (x ^ h.0).count_ones();
            if dist <= d {
                out.push((self.ids[pos], dist));
            }
        }
    }

    fn probe(&self, h: PHash, d: u32, r: u32, out: &mut Vec<(i64, u32)>) {
        let masks = masks(r);
        for (c, table) in self.tables.iter().enumerate() {
            let q = chunk(h.0, c);
            for &m in &masks {
                let v = q ^ usize::from(m);
                let (lo, hi) = (table.offsets[v] as usize, table.offsets[v + 1] as usize);
                for &pos in &table.items[lo..hi] {
                    let x = self.hashes[pos as usize];
                    let dist = (x ^ h.0).count_ones();
                    if dist > d {
                        continue;
                    }
                    // Found through an earlier table too? Then it is already in `out`.
                    let seen = (0..c).any(|e| ((chunk(x, e) ^ chunk(h.0, e)) as u32).count_ones() <= r);
                    if !seen {
                        out.push((self.ids[pos as usize], dist));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn probing_finds_exactly_what_a_linear_scan_finds() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut entries: Vec<(i64, PHash)> = (0..20_000).map(|i| (i, PHash(xorshift(&mut s)))).collect();
        // Near neighbours of a few hashes, at every distance up to 14 bits.
        for k in 0..15u32 {
            let flip = (0..k).fold(0u64, |m, b| m | (1u64 << ((b * 7 + 3) % 64)));
            entries.push((100_000 + i64::from(k), PHash(entries[7].1 .0 ^ flip)));
        }
        let mut index = HashIndex::new(entries.clone());
        index.push(-1, PHash(entries[7].1 .0 ^ 0b111));
        for d in [0, 2, 4, 6, 7, 8, 10, 11, 12, 16] {
            for q in [entries[7].1, entries[123].1, PHash(xorshift(&mut s))] {
                let fast = index.within(q, d);
                assert_eq!(fast, index.within_linear(q, d), "d = {d}");
            }
        }
        let near = index.within(entries[7].1, 6);
        assert!(near.iter().any(|&(id, dist)| id == -1 && dist == 3));
        assert_eq!(near.iter().filter(|(id, _)| *id >= 100_000).count(), 7);
    }

    #[test]
    fn rebuilds_after_many_pushes_keep_every_hash() {
        let mut index = HashIndex::new(Vec::new());
        for i in 0..5000 {
            index.push(i, PHash((i as u64).wrapping_mul(0x0101_0101_0101_0101)));
        }
        assert_eq!(index.len(), 5000);
        assert_eq!(index.within(PHash(0x0101_0101_0101_0101 * 3), 0), vec![(3, 0)]);
    }
}
