//! The perceptual hash (pHash) and its Hamming distance.
//!
//! As Python's `imagehash.phash`: a grayscale image resized to 32×32 with
//! Pillow's Lanczos filter, a 2-D DCT-II, the top-left 8×8 coefficients, and
//! one bit per coefficient: greater than their median. 64 bits, printed as 16
//! hex digits in imagehash's order (row-major, first bit most significant),
//! so our hashes can be checked against that library.

use std::fmt;

/// A 64-bit perceptual hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PHash(pub u64);

impl PHash {
    /// Bits that differ: 0 for the same picture, ≤ 6 for the same photo resized or re-encoded.
    pub fn distance(self, other: PHash) -> u32 {
        (self.0 ^ other.0).count_ones()
    }

    /// Parses 16 hex digits.
    pub fn from_hex(s: &str) -> Option<PHash> {
        (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok().map(PHash)).flatten()
    }
}

impl fmt::Display for PHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Side of the image the DCT runs on.
pub const HASH_INPUT: usize = 32;

/// A grayscale image, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` luma values.
    pub pixels: Vec<u8>,
}

impl Gray {
    /// The image turned by an EXIF orientation (1–8), so a rotated copy of a
    /// photo hashes like its original.
    pub fn oriented(self, orientation: u16) -> Gray {
        let (w, h) = (self.width, self.height);
        let swap = matches!(orientation, 5..=8);
        let (ow, oh) = if swap { (h, w) } else { (w, h) };
        if !(2..=8).contains(&orientation) {
            return self;
        }
        let mut out = vec![0u8; w * h];
        for y in 0..oh {
            for x in 0..ow {
                // Where output (x, y) comes from in the stored image.
                let (sx, sy) = match orientation {
                    2 => (w - 1 - x, y),
                    3 => (w - 1 - x, h - 1 - y),
                    4 => (x, h - 1 - y),
                    5 => (y, x),
                    6 => (y, h - 1 - x),
                    7 => (w - 1 - y, h - 1 - x),
                    _ => (w - 1 - y, x),
                };
                out[y * ow + x] = self.pixels[sy * w + sx];
            }
        }
        Gray { width: ow, height: oh, pixels: out }
    }
}

/// Pillow's Lanczos kernel (a = 3).
fn lanczos(x: f64) -> f64 {
    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            1.0
        } else {
            let px = std::f64::consts::PI * x;
            px.sin() / px
        }
    }
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Pillow's resampling weights for one axis: for each output index, the
/// first input index and the normalised weights (Resample.c, precompute_coeffs).
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5).floor().max(0.0)) as usize;
            let xmax = ((center + support + 0.5).floor() as usize).min(in_size);
            let mut w: Vec<f64> = (xmin..xmax).map(|x| lanczos((x as f64 - center + 0.5) / filterscale)).collect();
            let total: f64 = w.iter().sum();
            if total != 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            (xmin, w)
        })
        .collect()
}

/// `weights · pixels` in four running sums, which the compiler turns into
/// SIMD: one sum in order is a chain of dependent adds, and a 16 MP HEIC's
/// horizontal pass is ~70 M of them. The order of the additions differs
/// from a plain sum by the last bits of an f64, far below the rounding to
/// 8 bits that follows (`tests::the_four_sum_dot_rounds_as_the_plain_sum`).
fn dot(weights: &[f64], pixels: &[u8]) -> f64 {
    let n = weights.len().min(pixels.len());
    let (w, p) = (&weights[..n], &pixels[..n]);
    let mut acc = [0.0f64; 4];
    let (wc, pc) = (w.chunks_exact(4), p.chunks_exact(4));
    let (wr, pr) = (wc.remainder(), pc.remainder());
    for (wk, pk) in wc.zip(pc) {
        for i in 0..4 {
            acc[i] += wk[i] * f64::from(pk[i]);
        }
    }
    let tail: f64 = wr.iter().zip(pr).map(|(k, &v)| k * f64::from(v)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

fn clip8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Resizes as Pillow's `Image.resize(size, LANCZOS)` does on an "L" image:
/// horizontal pass, rounded to 8 bits, then vertical pass.
pub fn resize(img: &Gray, out_w: usize, out_h: usize) -> Gray {
    let (w, h) = (img.width, img.height);
    let horizontal = if w == out_w {
        img.pixels.clone()
    } else {
        let coeffs = coefficients(w, out_w);
        let mut out = vec![0u8; out_w * h];
        for y in 0..h {
            let row = &img.pixels[y * w..(y + 1) * w];
            for (x, (start, ws)) in coeffs.iter().enumerate() {
                out[y * out_w + x] = clip8(dot(ws, &row[*start..]));
            }
        }
        out
    };
    if h == out_h {
        return Gray { width: out_w, height: h, pixels: horizontal };
    }
    let coeffs = coefficients(h, out_h);
    let mut out = vec![0u8; out_w * out_h];
    for (y, (start, ws)) in coeffs.iter().enumerate() {
        for x in 0..out_w {
            let s: f64 = ws.iter().enumerate().map(|(i, k)| k * f64::from(horizontal[(start + i) * out_w + x])).sum();
            out[y * out_w + x] = clip8(s);
        }
    }
    Gray { width: out_w, height: out_h, pixels: out }
}

/// pHash of a 32×32 grayscale image.
pub fn phash_32(img: &Gray) -> PHash {
    debug_assert_eq!((img.width, img.height), (HASH_INPUT, HASH_INPUT));
    let n = HASH_INPUT;
    let m = dct_32(&img.pixels);
    let low: Vec<f64> = (0..8).flat_map(|y| (0..8).map(move |x| (y, x))).map(|(y, x)| m[y * n + x]).collect();
    let mut sorted = low.clone();
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[31] + sorted[32]) / 2.0;
    PHash(low.iter().fold(0u64, |acc, &v| (acc << 1) | u64::from(v > median)))
}

/// The 2-D DCT-II of a 32×32 image (row-major): along axis 0 (columns),
/// then axis 1 (rows), as scipy.fftpack.dct twice.
pub fn dct_32(pixels: &[u8]) -> Vec<f64> {
    let n = HASH_INPUT;
    let dct = rustdct::DctPlanner::new().plan_dct2(n);
    let mut m: Vec<f64> = pixels.iter().map(|&p| f64::from(p)).collect();
    let mut col = vec![0.0; n];
    for x in 0..n {
        for y in 0..n {
            col[y] = m[y * n + x];
        }
        dct.process_dct2(&mut col);
        for y in 0..n {
            m[y * n + x] = col[y];
        }
    }
    for row in m.chunks_exact_mut(n) {
        dct.process_dct2(row);
    }
    m
}

/// Below this standard deviation of the 32×32 gray levels a picture is
/// (nearly) uniform: a blank frame, a lens-cap shot, a placeholder. Its
/// pHash bits are noise around equal coefficients, so every blank picture
/// would "match" every other; such pictures are matched by exact content
/// only. Real photos in the corpus are all above 4; blank ones are 0–0.4.
pub const FLAT_STD_DEV: f64 = 2.0;

/// True when the 32×32 image is too uniform for its pHash to mean anything.
pub fn is_flat(img32: &Gray) -> bool {
    let n = img32.pixels.len().max(1) as f64;
    let mean = img32.pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = img32.pixels.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() < FLAT_STD_DEV
}

/// pHash of a grayscale image of any size, and whether it is flat ([`is_flat`]).
pub fn phash_with_flatness(img: &Gray) -> (PHash, bool) {
    let img32 = at_32(img);
    (phash_32(&img32), is_flat(&img32))
}

/// The image at 32×32, resized only when it is not.
fn at_32(img: &Gray) -> std::borrow::Cow<'_, Gray> {
    if img.width == HASH_INPUT && img.height == HASH_INPUT {
        std::borrow::Cow::Borrowed(img)
    } else {
        std::borrow::Cow::Owned(resize(img, HASH_INPUT, HASH_INPUT))
    }
}

/// A picture's hashes: the pHash, a second and independent look at the
/// same 32×32 image (for matches near the threshold), and whether it is flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashes {
    /// The pHash.
    pub phash: PHash,
    /// The second look ([`second_32`]).
    pub second: PHash,
    /// Too uniform to match by pHash ([`is_flat`]).
    pub flat: bool,
}

/// The hashes of a grayscale image of any size, from one 32×32 resize.
pub fn hashes(img: &Gray) -> Hashes {
    let img32 = at_32(img);
    Hashes { phash: phash_32(&img32), second: second_32(&img32), flat: is_flat(&img32) }
}

/// The second look: a difference hash (dHash) of the 32×32 image, each bit
/// whether a 4×4 block is brighter than its right-hand neighbour (8 rows
/// of 8 blocks, the last block of a row compared with its first). It
/// measures gradients where the pHash measures frequencies.
///
/// Chosen over a dHash down the columns, block means against their median
/// and the DCT band next to the pHash's: of the four it keeps the widest gap
/// between copies of a photo and distinct photos with close pHashes
/// (`cargo bench --bench similarity`).
pub fn second_32(img: &Gray) -> PHash {
    debug_assert_eq!((img.width, img.height), (HASH_INPUT, HASH_INPUT));
    let n = HASH_INPUT;
    let block = |bx: usize, by: usize| -> u32 {
        (0..4)
            .flat_map(|y| (0..4).map(move |x| (x, y)))
            .map(|(x, y)| u32::from(img.pixels[(by * 4 + y) * n + bx * 4 + x]))
            .sum()
    };
    let mut bits = 0u64;
    for by in 0..8 {
        for bx in 0..8 {
            bits = (bits << 1) | u64::from(block(bx, by) > block((bx + 1) % 8, by));
        }
    }
    PHash(bits)
}

/// Matches within this many bits of the threshold need the second look.
///
/// pHash bits are "above the median of 64", so every hash has 32 ones and
/// distances are even: a margin of 2 consults the second look at the
/// threshold's own distance (the one below it for an odd threshold). On the
/// corpus, distinct photos start matching exactly there as the threshold
/// rises (`cargo bench --bench similarity`, BENCHMARKS.md).
pub const SECOND_LOOK_MARGIN: u32 = 2;

/// Most bits the second looks of two copies of one picture differ by.
///
/// Measured on the corpus (BENCHMARKS.md, issue 14): resized, re-encoded,
/// converted, EXIF-rotated and 2%-cropped copies of camera photos differ by
/// at most 12 bits (99% by 9 or fewer); distinct photos whose pHashes are
/// 13–20 bits apart differ by 15 or more.
pub const SECOND_LOOK_MAX: u32 = 12;

/// Whether two pictures match at `threshold`: their pHash distance when it
/// is within the threshold and, for a distance within
/// [`SECOND_LOOK_MARGIN`] of it, their second looks agree (a picture
/// without a second look, indexed before it existed, is taken on its pHash).
pub fn matches(a: PHash, a2: Option<PHash>, b: PHash, b2: Option<PHash>, threshold: u32) -> Option<u32> {
    let d = a.distance(b);
    if d > threshold {
        return None;
    }
    if d + SECOND_LOOK_MARGIN > threshold {
        if let (Some(x), Some(y)) = (a2, b2) {
            if x.distance(y) > SECOND_LOOK_MAX {
                return None;
            }
        }
    }
    Some(d)
}

/// pHash of a grayscale image of any size.
pub fn phash(img: &Gray) -> PHash {
    if img.width == HASH_INPUT && img.height == HASH_INPUT {
        phash_32(img)
    } else {
        phash_32(&resize(img, HASH_INPUT, HASH_INPUT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_sum_dot_rounds_as_the_plain_sum() {
        // Noise at phone sizes, each row resized to 32 as the pHash does:
        // every 8-bit result equals the one-sum-in-order result.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        };
        let mut compared = 0;
        for w in [4032, 4624, 5712, 1999, 37, 33] {
            let row: Vec<u8> = (0..w).map(|_| next()).collect();
            for _ in 0..50 {
                let row: Vec<u8> = row.iter().map(|&v| v.wrapping_add(next() % 7)).collect();
                for (start, ws) in coefficients(w, HASH_INPUT) {
                    let plain: f64 = ws.iter().zip(&row[start..]).map(|(k, &p)| k * f64::from(p)).sum();
                    assert_eq!(clip8(dot(&ws, &row[start..])), clip8(plain), "width {w} at {start}");
                    assert!((dot(&ws, &row[start..]) - plain).abs() < 1e-9);
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 6 * 50 * 32);
    }

    fn gradient(w: usize, h: usize) -> Gray {
        // A smooth picture of a few bright and dark blobs, as a photo has:
        // no pattern that aliases, no coefficients that are all near zero.
        let blobs = [(0.2, 0.3, 0.15, 90.0), (0.7, 0.6, 0.2, -70.0), (0.5, 0.1, 0.1, 60.0), (0.85, 0.9, 0.12, 50.0)];
        let f = move |x: usize, y: usize| {
            let (u, v) = (x as f64 / w as f64, y as f64 / h as f64);
            let b: f64 =
                blobs.iter().map(|(cx, cy, r, a)| a * (-((u - cx).powi(2) + (v - cy).powi(2)) / (r * r)).exp()).sum();
            (110.0 + b).clamp(0.0, 255.0)
        };
        let pixels = (0..h).flat_map(|y| (0..w).map(move |x| f(x, y) as u8)).collect();
        Gray { width: w, height: h, pixels }
    }

    #[test]
    fn hex_round_trips_and_distance_counts_bits() {
        let h = PHash(0x8000_0000_0000_0001);
        assert_eq!(h.to_string(), "8000000000000001");
        assert_eq!(PHash::from_hex("8000000000000001"), Some(h));
        assert_eq!(PHash::from_hex("xyz"), None);
        assert_eq!(h.distance(PHash(0)), 2);
    }

    #[test]
    fn a_flat_image_has_only_the_dc_bit_above_the_median_and_is_flagged() {
        let flat = Gray { width: 32, height: 32, pixels: vec![100; 1024] };
        assert_eq!(phash(&flat), PHash(1 << 63));
        assert!(phash_with_flatness(&flat).1);
        assert!(!phash_with_flatness(&gradient(640, 480)).1);
    }

    #[test]
    fn resizing_keeps_the_hash_close() {
        let big = gradient(640, 480);
        let small = resize(&big, 320, 240);
        let d = phash(&big).distance(phash(&small));
        assert!(d <= 4, "{d} bits: {} vs {}", phash(&big), phash(&small));
    }

    #[test]
    fn orientation_turns_the_pixels() {
        let g = Gray { width: 3, height: 2, pixels: vec![1, 2, 3, 4, 5, 6] };
        assert_eq!(g.clone().oriented(1).pixels, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(g.clone().oriented(3).pixels, vec![6, 5, 4, 3, 2, 1]);
        let r = g.clone().oriented(6); // stored rotated 90° CCW: turn it clockwise
        assert_eq!((r.width, r.height, r.pixels), (2, 3, vec![4, 1, 5, 2, 6, 3]));
        let r = g.oriented(8);
        assert_eq!((r.width, r.height, r.pixels), (2, 3, vec![3, 6, 2, 5, 1, 4]));
    }

    /// A hash with the lowest `n` bits set.
    fn ones(n: u32) -> PHash {
        PHash(if n == 0 { 0 } else { u64::MAX >> (64 - n) })
    }

    #[test]
    fn a_match_near_the_threshold_is_rejected_when_the_second_looks_disagree() {
        let (a, b) = (ones(0), ones(8));
        let far = ones(SECOND_LOOK_MAX + 1);
        assert_eq!(matches(a, Some(ones(0)), b, Some(far), 8), None);
        assert_eq!(matches(a, Some(ones(0)), b, Some(far), 9), None);
    }

    #[test]
    fn a_match_near_the_threshold_is_accepted_when_the_second_looks_agree() {
        let (a, b) = (ones(0), ones(8));
        assert_eq!(matches(a, Some(ones(0)), b, Some(ones(SECOND_LOOK_MAX)), 8), Some(8));
        assert_eq!(matches(a, Some(ones(0)), b, Some(ones(3)), 9), Some(8));
    }

    #[test]
    fn a_match_well_within_the_threshold_does_not_consult_the_second_look() {
        let (a, b) = (ones(0), ones(8));
        let opposite = (PHash(0), PHash(u64::MAX));
        assert_eq!(matches(a, Some(opposite.0), b, Some(opposite.1), 8 + SECOND_LOOK_MARGIN), Some(8));
        assert_eq!(matches(a, Some(opposite.0), b, Some(opposite.1), 12), Some(8));
        assert_eq!(matches(a, Some(opposite.0), b, Some(opposite.1), 7), None);
    }

    #[test]
    fn a_picture_without_a_second_look_is_taken_on_its_phash() {
        let (a, b) = (ones(0), ones(8));
        assert_eq!(matches(a, None, b, Some(PHash(u64::MAX)), 8), Some(8));
        assert_eq!(matches(a, Some(PHash(u64::MAX)), b, None, 8), Some(8));
    }

    #[test]
    fn a_resized_copy_has_a_close_second_look_and_another_picture_does_not() {
        let big = hashes(&gradient(640, 480));
        let small = hashes(&resize(&gradient(640, 480), 320, 240));
        let d = big.second.distance(small.second);
        assert!(d <= 2, "{d} bits: {} vs {}", big.second, small.second);
        // The same blobs upside down: another picture.
        let flipped = hashes(&gradient(640, 480).oriented(3));
        let d = big.second.distance(flipped.second);
        assert!(d > SECOND_LOOK_MAX, "{d} bits: {} vs {}", big.second, flipped.second);
    }

    #[test]
    fn pillow_lanczos_weights_sum_to_one_and_stay_in_range() {
        for (start, w) in coefficients(4000, 32) {
            assert!(start < 4000);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
