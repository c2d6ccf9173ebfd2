//! HEIC/HEIF/AVIF pixels for hashing, through libheif (libheif-rs, built
//! from source with the `embedded-libheif` feature; AV1 by dav1d, HEVC by
//! libavcodec where the build has it (build/libheif.cmake), else libde265).
//!
//! libheif applies the file's own transformations (`irot`/`imir`/`clap`),
//! which is how HEIF records orientation, so no EXIF orientation is applied
//! on top. Only the luma plane is decoded (monochrome output).
//!
//! A 12 MP primary image costs 200–800 ms to decode; iPhones store a
//! 320×240-ish thumbnail beside it. `benches/heif_thumbnail.rs` measures on
//! the corpus whether the thumbnail's hash is within 2 bits of the
//! primary's; see BENCHMARKS.md for the result and [`THUMBNAIL_MIN_SIDE`].

use std::path::Path;

use std::sync::OnceLock;

use libheif_rs::{ColorSpace, CompressionFormat, DecodingOptions, HeifContext, ImageHandle, LibHeif, Plane, RgbChroma};

use super::decode::{check_dimensions, Decoded};
use super::MediaError;
use crate::phash::Gray;

/// A thumbnail is used for hashing only when its short side is at least
/// this many pixels (the same rule as JPEG's reduced decode).
pub const THUMBNAIL_MIN_SIDE: u32 = 128;

/// What hashing uses (chosen by measurement: see BENCHMARKS.md).
pub const HASH_SOURCE: Source = Source::ThumbnailIfBigEnough;

/// Which image of the file to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The primary image, fully decoded.
    Primary,
    /// The embedded thumbnail when there is one big enough, else the primary.
    ThumbnailIfBigEnough,
}

/// Which HEVC decoder libheif runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HevcDecoder {
    /// libavcodec's when this build has it (about twice as fast on phone HEICs),
    /// else libde265.
    Fastest,
    /// libde265, libheif's own first choice: the reference the tests
    /// compare the fast decoder's hashes against.
    Libde265,
}

/// libheif's id of its libavcodec decoder.
const FFMPEG_ID: &str = "ffmpeg";

/// Whether this libheif build has the libavcodec HEVC decoder.
/// (libavcodec is opened the first time this is asked: [`super::avcodec`].)
pub fn has_libavcodec() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        super::avcodec::available()
            && LibHeif::new().decoder_descriptors(16, Some(CompressionFormat::Hevc)).iter().any(|d| d.id() == FFMPEG_ID)
    })
}

/// Decoding options for `decoder`. The fast path also keeps the file's own
/// colour profile: left to itself libheif 1.23 converts a YCbCr image to its
/// default profile, an RGB round trip of every pixel that moves the luma by
/// a rounding step at most.
fn decoding_options(decoder: HevcDecoder) -> Option<DecodingOptions> {
    let mut options = DecodingOptions::new()?;
    match decoder {
        HevcDecoder::Fastest => {
            options.set_output_image_nclx_profile_passthrough(true);
            if has_libavcodec() {
                options.set_decoder_id(Some(FFMPEG_ID)).ok()?;
            }
        }
        HevcDecoder::Libde265 => options.set_decoder_id(Some("libde265")).ok()?,
    }
    Some(options)
}

fn corrupt(path: &Path, what: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::Corrupt { path: path.to_path_buf(), reason: format!("HEIF {what}: {e}") }
}

/// The biggest embedded thumbnail of `handle` that `fits` (by its width and height).
pub(crate) fn biggest_thumbnail(handle: &ImageHandle, fits: impl Fn(u32, u32) -> bool) -> Option<ImageHandle> {
    let n = handle.number_of_thumbnails();
    if n == 0 {
        return None;
    }
    let mut ids = vec![0; n];
    let n = handle.thumbnail_ids(&mut ids);
    ids.truncate(n);
    ids.into_iter()
        .filter_map(|id| handle.thumbnail(id).ok())
        .filter(|t| fits(t.width(), t.height()))
        .max_by_key(|t| u64::from(t.width()) * u64::from(t.height()))
}

/// The thumbnail handle to hash, if there is one at least [`THUMBNAIL_MIN_SIDE`] on its short side.
fn usable_thumbnail(handle: &ImageHandle) -> Option<ImageHandle> {
    biggest_thumbnail(handle, |w, h| w.min(h) >= THUMBNAIL_MIN_SIDE)
}

/// Decodes the luma of a HEIF file's primary image (or its thumbnail) upright.
/// Returns the pixels, the primary image's size, and whether a thumbnail was used.
pub fn load_gray(path: &Path, source: Source) -> Result<(Decoded, bool), MediaError> {
    let data = super::read_all(&mut super::open(path)?.file, path)?;
    load_gray_bytes(path, &data, source)
}

/// [`load_gray`] with a chosen HEVC decoder.
pub fn load_gray_with(path: &Path, source: Source, decoder: HevcDecoder) -> Result<(Decoded, bool), MediaError> {
    let data = super::read_all(&mut super::open(path)?.file, path)?;
    load_gray_bytes_with(path, &data, source, decoder)
}

/// [`load_gray`] of a file already read (`path` names it in messages).
pub fn load_gray_bytes(path: &Path, data: &[u8], source: Source) -> Result<(Decoded, bool), MediaError> {
    load_gray_bytes_with(path, data, source, HevcDecoder::Fastest)
}

/// [`load_gray_bytes`] with a chosen HEVC decoder. An AV1 file (an `av1C`
/// property) always goes to libheif's own choice (dav1d); a file the fast
/// decoder refuses is decoded again by libde265 before it is called corrupt.
pub fn load_gray_bytes_with(
    path: &Path,
    data: &[u8],
    source: Source,
    decoder: HevcDecoder,
) -> Result<(Decoded, bool), MediaError> {
    let ctx = HeifContext::read_from_bytes(data).map_err(|e| corrupt(path, "container", e))?;
    let primary = ctx.primary_image_handle().map_err(|e| corrupt(path, "primary image", e))?;
    let (w, h) = (primary.width(), primary.height());
    check_dimensions(path, w, h)?;
    let thumb = match source {
        Source::Primary => None,
        Source::ThumbnailIfBigEnough => usable_thumbnail(&primary),
    };
    let used_thumb = thumb.is_some();
    let handle = thumb.as_ref().unwrap_or(&primary);
    let lib = LibHeif::new();
    // An AV1 file goes to libheif's own AV1 decoder (dav1d), not to a named HEVC one.
    let av1 = memchr::memmem::find(data, b"av1C").is_some();
    let options = || if av1 { None } else { decoding_options(decoder) };
    // Native colour space: for the usual YCbCr files the luma plane as
    // coded, no conversion; RGB files come back interleaved.
    let image = match lib.decode(handle, ColorSpace::Undefined, options()) {
        Ok(image) => image,
        Err(_) if !av1 && decoder == HevcDecoder::Fastest && has_libavcodec() => lib
            .decode(handle, ColorSpace::Undefined, decoding_options(HevcDecoder::Libde265))
            .map_err(|e| corrupt(path, "image data", e))?,
        Err(e) => return Err(corrupt(path, "image data", e)),
    };
    let planes = image.planes();
    let gray = if let Some(y) = planes.y {
        plane_to_gray(path, &y, 1)?
    } else {
        let image = lib
            .decode(handle, ColorSpace::Rgb(RgbChroma::Rgb), options())
            .map_err(|e| corrupt(path, "image data", e))?;
        let planes = image.planes();
        let rgb = planes.interleaved.ok_or_else(|| corrupt(path, "image data", "no luma or RGB plane"))?;
        let wide = plane_to_gray(path, &rgb, 3)?;
        let pixels = wide
            .pixels
            .chunks_exact(3)
            .map(|p| {
                ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8
            })
            .collect();
        Gray { width: wide.width / 3, height: wide.height, pixels }
    };
    Ok((Decoded { gray, width: w, height: h }, used_thumb))
}

/// 8-bit samples of a plane with `channels` interleaved samples per pixel
/// (more than 8 bits per sample are shifted down); the result is
/// `width * channels` samples wide.
fn plane_to_gray(path: &Path, p: &Plane<&[u8]>, channels: usize) -> Result<Gray, MediaError> {
    let short = || corrupt(path, "image data", "short plane");
    let (pw, ph) = (p.width as usize * channels, p.height as usize);
    let shift = u32::from(p.bits_per_pixel.saturating_sub(8));
    let wide = p.storage_bits_per_pixel > 8 * channels as u8;
    let mut pixels = Vec::with_capacity(pw * ph);
    for row in 0..ph {
        let line = p.data.get(row * p.stride..).ok_or_else(short)?;
        if wide {
            let line = line.get(..pw * 2).ok_or_else(short)?;
            pixels.extend(line.chunks_exact(2).map(|b| (u16::from_le_bytes([b[0], b[1]]) >> shift).min(255) as u8));
        } else {
            pixels.extend_from_slice(line.get(..pw).ok_or_else(short)?);
        }
    }
    Ok(Gray { width: pw, height: ph, pixels })
}
