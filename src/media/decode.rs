//! Pixels for hashing: a grayscale image, turned upright by its EXIF
//! orientation, with declared dimensions checked before any decoding so a
//! decompression bomb is refused instead of filling memory.

use std::io::Cursor;
use std::path::Path;

use super::{exif, heif, jpeg_dc, raw, Kind, MediaError};
use crate::phash::Gray;

/// Largest image we decode: 200 megapixels (a 16-bit RGBA bitmap that size
/// is 1.6 GB). Real cameras top out near 100 MP.
pub const MAX_PIXELS: u64 = 200_000_000;

/// True for kinds we can turn into pixels: still images, HEIF/AVIF, and
/// RAW files with an embedded JPEG preview.
pub fn can_decode(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Jpeg
            | Kind::Png
            | Kind::Gif
            | Kind::Bmp
            | Kind::Tiff
            | Kind::Webp
            | Kind::Heif
            | Kind::Avif
            | Kind::Jxl
            | Kind::Raf
            | Kind::Cr2
            | Kind::Nef
            | Kind::Arw
            | Kind::Dng
            | Kind::Rw2
            | Kind::Cr3
            | Kind::Crw
            | Kind::Mrw
            | Kind::X3f
    )
}

/// Why a kind that [`can_decode`] refuses is matched by exact content only.
pub fn cannot_decode_reason(kind: Kind) -> String {
    match kind {
        Kind::Jp2 => super::jp2::UNSUPPORTED.to_string(),
        k => format!("{} images are matched by exact content only", k.name()),
    }
}

/// Pixels to hash, and the size of the full image they stand for.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Upright grayscale pixels (possibly a reduced-size version of the image).
    pub gray: Gray,
    /// Upright width of the full image.
    pub width: u32,
    /// Upright height of the full image.
    pub height: u32,
}

/// Decodes `path` (of `kind`) to an upright grayscale image.
pub fn load_gray(path: &Path, kind: Kind) -> Result<Decoded, MediaError> {
    let data = super::read_all(&mut super::open(path)?.file, path)?;
    load_gray_bytes(path, &data, kind)
}

/// [`load_gray`] of a file already read (`path` names it in messages).
pub fn load_gray_bytes(path: &Path, data: &[u8], kind: Kind) -> Result<Decoded, MediaError> {
    if kind == Kind::Jp2 {
        return Err(MediaError::NotMedia { path: path.to_path_buf(), reason: cannot_decode_reason(kind) });
    }
    if !can_decode(kind) {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: format!("{} images cannot be decoded for a perceptual hash", kind.name()),
        });
    }
    if kind == Kind::Jxl {
        return super::jxl::load_gray_bytes(path, data);
    }
    if matches!(kind, Kind::Heif | Kind::Avif) {
        return heif::load_gray_bytes(path, data, heif::HASH_SOURCE).map(|(d, _)| d);
    }
    if kind.is_raw() {
        let (off, len) = raw::preview_range(data, kind).ok_or_else(|| MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: format!("{} file without an embedded JPEG preview: matched by exact content only", kind.name()),
        })?;
        let jpeg = &data[off..off + len];
        // The preview's own EXIF orientation (RAF) or else the RAW's (TIFF-based).
        let orientation = orientation_of(jpeg, Kind::Jpeg).or_else(|| orientation_of(data, kind)).unwrap_or(1);
        return load_jpeg(path, jpeg, orientation);
    }
    let orientation = orientation_of(data, kind).unwrap_or(1);
    if kind == Kind::Jpeg {
        return load_jpeg(path, data, orientation);
    }
    decode_bytes(path, data, orientation)
}

/// The short side a reduced decode must keep: below it, hashes drift from a
/// full decode's (measured with Pillow's reduced decode on the corpus: 1/8 on
/// images under 0.3 MP drifted up to 20 bits; this rule kept all within 2).
pub const MIN_REDUCED_SIDE: u32 = 128;

/// The strongest JPEG reduction (8, 4, 2 or 1) that keeps the short side at
/// least [`MIN_REDUCED_SIDE`] pixels.
pub fn jpeg_reduction(w: u32, h: u32) -> u32 {
    let short = w.min(h);
    [8, 4, 2].into_iter().find(|&r| short.div_ceil(r) >= MIN_REDUCED_SIDE).unwrap_or(1)
}

/// How a JPEG's pixels for hashing were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegPath {
    /// Our own pass over the entropy-coded data keeping only luma DC (1/8 scale).
    DcOnly,
    /// libjpeg-turbo's scaled decode to grayscale at 1/`n`.
    Turbo(u32),
    /// The `image` crate's full decode (what libjpeg-turbo refused).
    Full,
}

/// Upright luma of a JPEG at the reduction [`jpeg_reduction`] picks.
pub fn load_jpeg(path: &Path, data: &[u8], orientation: u16) -> Result<Decoded, MediaError> {
    load_jpeg_via(path, data, orientation).map(|(d, _)| d)
}

/// As [`load_jpeg`], also saying which decoder produced the pixels.
pub fn load_jpeg_via(path: &Path, data: &[u8], orientation: u16) -> Result<(Decoded, JpegPath), MediaError> {
    let corrupt = |reason: String| MediaError::Corrupt { path: path.to_path_buf(), reason };
    let info = match jpeg_dc::read_info(data) {
        Ok(info) => info,
        Err(jpeg_dc::DcError::TooLarge { width, height }) => {
            check_dimensions(path, width, height)?;
            return Err(corrupt(format!("JPEG declares {width}×{height} pixels")));
        }
        Err(e) => return Err(corrupt(format!("JPEG header: {e}"))),
    };
    let (w, h) = (info.width, info.height);
    check_dimensions(path, w, h)?;
    let reduction = jpeg_reduction(w, h);
    if reduction == 8 {
        if let Ok(dc) = jpeg_dc::decode_luma_dc(data) {
            let gray = Gray { width: dc.width, height: dc.height, pixels: dc.pixels };
            return Ok((upright(gray, w, h, orientation), JpegPath::DcOnly));
        }
    }
    match turbo_gray(data, reduction) {
        Ok(gray) => Ok((upright(gray, w, h, orientation), JpegPath::Turbo(reduction))),
        // CMYK, damaged data libjpeg-turbo will not finish: the full decoder decides.
        Err(_) => decode_bytes(path, data, orientation).map(|d| (d, JpegPath::Full)),
    }
}

/// libjpeg-turbo's decode at 1/`reduction` scale straight to 8-bit grayscale.
pub fn turbo_gray(data: &[u8], reduction: u32) -> Result<Gray, turbojpeg::Error> {
    use turbojpeg::{Decompressor, Image, PixelFormat, ScalingFactor};
    let factor = match reduction {
        8 => ScalingFactor::ONE_EIGHTH,
        4 => ScalingFactor::ONE_QUARTER,
        2 => ScalingFactor::ONE_HALF,
        _ => ScalingFactor::ONE,
    };
    let mut d = Decompressor::new()?;
    d.set_scaling_factor(factor)?;
    let header = d.read_header(data)?;
    let (width, height) = (factor.scale(header.width), factor.scale(header.height));
    let mut pixels = vec![0u8; width * height];
    d.decompress(data, Image { pixels: &mut pixels[..], width, pitch: width, height, format: PixelFormat::GRAY })?;
    Ok(Gray { width, height, pixels })
}

/// The EXIF orientation in an in-memory file of `kind`.
fn orientation_of(data: &[u8], kind: Kind) -> Option<u16> {
    exif::read_bytes(data, kind).and_then(|e| e.orientation)
}

/// Decodes an image in memory with the `image` crate, checking its declared
/// size first, to upright 8-bit luma.
fn decode_bytes(path: &Path, data: &[u8], orientation: u16) -> Result<Decoded, MediaError> {
    let img = decode_checked(path, data)?;
    let (w, h) = (img.width(), img.height());
    let rgb = img.to_rgb8();
    // Pillow's "L" conversion (ITU-R 601-2 luma), as imagehash uses.
    let pixels = rgb
        .pixels()
        .map(|p| ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8)
        .collect();
    let gray = Gray { width: rgb.width() as usize, height: rgb.height() as usize, pixels };
    Ok(upright(gray, w, h, orientation))
}

/// Decodes `data` with the `image` crate after checking its declared size
/// ([`check_dimensions`]) and capping what the decoder may allocate: a
/// decompression bomb is refused before its pixels are.
pub fn decode_checked(path: &Path, data: &[u8]) -> Result<image::DynamicImage, MediaError> {
    let corrupt = |reason: String| MediaError::Corrupt { path: path.to_path_buf(), reason };
    let open = || {
        image::ImageReader::new(Cursor::new(data))
            .with_guessed_format()
            .map_err(|source| MediaError::Io { path: path.to_path_buf(), source })
    };
    let (w, h) = open()?.into_dimensions().map_err(|e| corrupt(format!("cannot read image size: {e}")))?;
    check_dimensions(path, w, h)?;
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    reader.decode().map_err(|e| corrupt(format!("cannot decode: {e}")))
}

/// Turns pixels and the full size by an EXIF orientation.
pub fn upright(gray: Gray, w: u32, h: u32, orientation: u16) -> Decoded {
    let (width, height) = if matches!(orientation, 5..=8) { (h, w) } else { (w, h) };
    Decoded { gray: gray.oriented(orientation), width, height }
}

/// Refuses images whose declared size is absurd (a decompression bomb).
pub fn check_dimensions(path: &Path, w: u32, h: u32) -> Result<(), MediaError> {
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || pixels > MAX_PIXELS {
        return Err(MediaError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "declares {w}×{h} pixels ({:.0} MP), over the {} MP limit: refusing to decode a possible decompression bomb",
                pixels as f64 / 1e6,
                MAX_PIXELS / 1_000_000
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reduction_keeps_the_short_side_at_128_pixels() {
        assert_eq!(jpeg_reduction(4032, 3024), 8);
        assert_eq!(jpeg_reduction(1024, 2000), 8);
        assert_eq!(jpeg_reduction(1017, 2000), 8); // ceil(1017 / 8) = 128, as libjpeg-turbo scales
        assert_eq!(jpeg_reduction(1016, 2000), 4);
        assert_eq!(jpeg_reduction(800, 600), 4);
        assert_eq!(jpeg_reduction(256, 256), 2);
        assert_eq!(jpeg_reduction(300, 200), 1);
        assert_eq!(jpeg_reduction(8, 8), 1);
    }
}
