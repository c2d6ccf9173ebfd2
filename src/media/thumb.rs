//! Small upright JPEG previews of photos, for the review page (issue 16).
//!
//! Each kind takes its cheapest way to a few hundred pixels:
//!
//! - JPEG: libjpeg-turbo's scaled decode (1/8, 1/4, 1/2) straight to RGB,
//!   at the strongest scale that still leaves the longest side at least
//!   `max_side`, then an area-averaging resize;
//! - RAW (CR2, NEF, ARW, DNG, RAF, RW2, CR3, CRW, MRW, X3F): the embedded
//!   JPEG preview ([`raw::preview_range`]), then the JPEG path;
//! - HEIC/HEIF/AVIF: libheif; the file's embedded thumbnail when one is at
//!   least `max_side` on its longest side, else the primary image;
//! - JPEG XL: jxl-oxide;
//! - PNG, GIF, BMP, TIFF, WebP: the `image` crate (transparency over white).
//!
//! The EXIF orientation (1–8) is applied (for a RAW, its preview's own or
//! else the RAW's); HEIF and JPEG XL come upright from their decoders. The
//! declared size is checked before any pixel is decoded
//! ([`decode::check_dimensions`]), so a decompression bomb is refused.
//! Videos, JPEG 2000, ORF and RAWs without a preview give an error that
//! says so (the page shows a placeholder).

use std::io::Cursor;
use std::path::Path;

use image::{imageops, DynamicImage, RgbImage};

use super::decode::check_dimensions;
use super::{exif, raw, sniff, Kind, MediaError};

/// JPEG quality of a thumbnail.
pub const QUALITY: i32 = 80;

/// The largest `max_side` honoured: larger requests get this.
pub const MAX_SIDE: u32 = 4096;

/// A thumbnail: JPEG bytes and the size of the (upright) image they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    /// The JPEG file's bytes (baseline, quality [`QUALITY`], 4:2:0).
    pub jpeg: Vec<u8>,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
}

/// An upright-to-be RGB image and the EXIF orientation still to apply.
struct Pixels {
    rgb: RgbImage,
    orientation: u16,
}

fn corrupt(path: &Path, reason: String) -> MediaError {
    MediaError::Corrupt { path: path.to_path_buf(), reason }
}

fn not_media(path: &Path, reason: String) -> MediaError {
    MediaError::NotMedia { path: path.to_path_buf(), reason }
}

/// The thumbnail of the photo at `path`, no larger than `max_side` (clamped
/// to 1..=[`MAX_SIDE`]) on its longest side; a smaller image keeps its size.
/// The file is read through [`super::open`] (no link followed).
pub fn thumbnail(path: &Path, max_side: u32) -> Result<Thumb, MediaError> {
    let data = super::read_all(&mut super::open(path)?.file, path)?;
    thumbnail_bytes(path, &data, max_side)
}

/// [`thumbnail`] of a file already read (`path` names it in messages).
pub fn thumbnail_bytes(path: &Path, data: &[u8], max_side: u32) -> Result<Thumb, MediaError> {
    let max_side = max_side.clamp(1, MAX_SIDE);
    if data.is_empty() {
        return Err(MediaError::Empty { path: path.to_path_buf() });
    }
    let head = &data[..data.len().min(sniff::HEAD_LEN)];
    let Some(kind) = sniff::sniff_bytes(head) else {
        return Err(not_media(path, format!("not a photo ({}): no thumbnail", sniff::describe(head))));
    };
    let px = pixels(path, data, kind, max_side)?;
    let small = fit(px.rgb, max_side);
    let upright = orient(small, px.orientation);
    encode(path, &upright)
}

/// Decoded pixels of `data` (of `kind`), possibly already reduced.
fn pixels(path: &Path, data: &[u8], kind: Kind, max_side: u32) -> Result<Pixels, MediaError> {
    if kind.is_video() {
        return Err(not_media(path, format!("{} video: no thumbnail of videos", kind.name())));
    }
    match kind {
        Kind::Jpeg => {
            let orientation = orientation_of(data, kind);
            jpeg(path, data, max_side, orientation)
        }
        Kind::Heif | Kind::Avif => heif(path, data, max_side).map(|rgb| Pixels { rgb, orientation: 1 }),
        Kind::Jxl => jxl(path, data).map(|rgb| Pixels { rgb, orientation: 1 }),
        Kind::Jp2 => Err(not_media(path, super::jp2::UNSUPPORTED.to_string())),
        Kind::Tiff => {
            // A TIFF-based RAW sniffs as TIFF: its make or DNGVersion tells (as `probe` does).
            let exif = exif::read_bytes(data, kind).unwrap_or_default();
            let make = exif.make.as_deref().unwrap_or("").to_ascii_uppercase();
            let raw = if exif.dng {
                Some(Kind::Dng)
            } else if make.starts_with("NIKON") {
                Some(Kind::Nef)
            } else if make.starts_with("SONY") {
                Some(Kind::Arw)
            } else {
                None
            };
            if let Some(raw) = raw {
                raw_preview(path, data, raw, max_side)
            } else {
                let orientation = exif.orientation.unwrap_or(1);
                generic(path, data).map(|rgb| Pixels { rgb, orientation })
            }
        }
        Kind::Png | Kind::Gif | Kind::Bmp | Kind::Webp => {
            let orientation = orientation_of(data, kind);
            generic(path, data).map(|rgb| Pixels { rgb, orientation })
        }
        k if k.is_raw() => raw_preview(path, data, k, max_side),
        k => Err(not_media(path, format!("{} files: no thumbnail", k.name()))),
    }
}

/// The EXIF orientation of an in-memory file, 1 when none or out of range.
fn orientation_of(data: &[u8], kind: Kind) -> u16 {
    exif::read_bytes(data, kind).and_then(|e| e.orientation).filter(|o| (1..=8).contains(o)).unwrap_or(1)
}

/// A RAW's embedded JPEG preview, decoded, with its orientation.
fn raw_preview(path: &Path, data: &[u8], kind: Kind, max_side: u32) -> Result<Pixels, MediaError> {
    let (off, len) = raw::preview_range(data, kind).ok_or_else(|| {
        not_media(path, format!("{} file without an embedded JPEG preview: no thumbnail", kind.name()))
    })?;
    let preview = off
        .checked_add(len)
        .and_then(|end| data.get(off..end))
        .ok_or_else(|| corrupt(path, format!("{} preview lies outside the file", kind.name())))?;
    // The preview's own EXIF orientation (RAF) or else the RAW's (TIFF-based).
    let orientation = exif::read_bytes(preview, Kind::Jpeg)
        .and_then(|e| e.orientation)
        .or_else(|| exif::read_bytes(data, kind).and_then(|e| e.orientation))
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    jpeg(path, preview, max_side, orientation)
}

/// The strongest libjpeg-turbo reduction (8, 4, 2 or 1) that keeps the
/// longest side of a `w`×`h` JPEG at least `max_side` (no upscaling later).
pub fn jpeg_scale(w: u32, h: u32, max_side: u32) -> u32 {
    let long = w.max(h);
    [8, 4, 2].into_iter().find(|&r| long.div_ceil(r) >= max_side).unwrap_or(1)
}

/// A JPEG at the reduction [`jpeg_scale`] picks, as RGB.
fn jpeg(path: &Path, data: &[u8], max_side: u32, orientation: u16) -> Result<Pixels, MediaError> {
    use turbojpeg::{Decompressor, Image, PixelFormat, ScalingFactor};
    let err = |e: turbojpeg::Error| corrupt(path, format!("JPEG: {e}"));
    let turbo = |d: &mut Decompressor, header: turbojpeg::DecompressHeader| -> Result<RgbImage, MediaError> {
        let factor = match jpeg_scale(header.width as u32, header.height as u32, max_side) {
            8 => ScalingFactor::ONE_EIGHTH,
            4 => ScalingFactor::ONE_QUARTER,
            2 => ScalingFactor::ONE_HALF,
            _ => ScalingFactor::ONE,
        };
        d.set_scaling_factor(factor).map_err(err)?;
        let (width, height) = (factor.scale(header.width), factor.scale(header.height));
        let mut pixels = vec![0u8; width * height * 3];
        d.decompress(
            data,
            Image { pixels: &mut pixels[..], width, pitch: width * 3, height, format: PixelFormat::RGB },
        )
        .map_err(err)?;
        RgbImage::from_raw(width as u32, height as u32, pixels)
            .ok_or_else(|| corrupt(path, "JPEG: decoded buffer has the wrong size".into()))
    };
    let mut d = Decompressor::new().map_err(err)?;
    let tried = match d.read_header(data) {
        Ok(header) => {
            let dims = (u32::try_from(header.width), u32::try_from(header.height));
            let (Ok(w), Ok(h)) = dims else {
                return Err(corrupt(path, "JPEG declares an absurd size".into()));
            };
            // A declared size over the limit is final.
            check_dimensions(path, w, h)?;
            turbo(&mut d, header)
        }
        Err(e) => Err(err(e)),
    };
    match tried {
        Ok(rgb) => Ok(Pixels { rgb, orientation }),
        // CMYK, and what libjpeg-turbo will not read: the `image` crate decides.
        Err(turbo_err) => match generic(path, data) {
            Ok(rgb) => Ok(Pixels { rgb, orientation }),
            Err(_) => Err(turbo_err),
        },
    }
}

/// Decodes with the `image` crate after checking the declared size; alpha is
/// composited over white.
fn generic(path: &Path, data: &[u8]) -> Result<RgbImage, MediaError> {
    Ok(flatten(super::decode::decode_checked(path, data)?))
}

/// RGB of an image, any transparency composited over white.
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            o[c] = ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// The biggest embedded HEIF thumbnail at least `max_side` on its longest side.
fn heif_thumbnail(handle: &libheif_rs::ImageHandle, max_side: u32) -> Option<libheif_rs::ImageHandle> {
    super::heif::biggest_thumbnail(handle, |w, h| w.max(h) >= max_side)
}

/// A HEIF/AVIF file's thumbnail (when big enough) or primary image as RGB,
/// upright by the file's own transformations (libheif applies them).
fn heif(path: &Path, data: &[u8], max_side: u32) -> Result<RgbImage, MediaError> {
    use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};
    let err = |what: &str, e: &dyn std::fmt::Display| corrupt(path, format!("HEIF {what}: {e}"));
    let ctx = HeifContext::read_from_bytes(data).map_err(|e| err("container", &e))?;
    let primary = ctx.primary_image_handle().map_err(|e| err("primary image", &e))?;
    check_dimensions(path, primary.width(), primary.height())?;
    let thumb = heif_thumbnail(&primary, max_side.min(primary.width().max(primary.height())));
    let handle = thumb.as_ref().unwrap_or(&primary);
    check_dimensions(path, handle.width(), handle.height())?;
    let lib = LibHeif::new();
    let image = match lib.decode(handle, ColorSpace::Rgb(RgbChroma::Rgb), None) {
        Ok(image) => image,
        // A primary libheif will not decode: any embedded thumbnail, however small, beats a placeholder.
        Err(e) => match heif_thumbnail(&primary, 1).filter(|_| thumb.is_none()) {
            Some(small) => {
                lib.decode(&small, ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(|_| err("image data", &e))?
            }
            None => return Err(err("image data", &e)),
        },
    };
    let planes = image.planes();
    let p = planes.interleaved.ok_or_else(|| corrupt(path, "HEIF image data: no RGB plane".into()))?;
    let short = || corrupt(path, "HEIF image data: short plane".into());
    let (w, h) = (p.width as usize, p.height as usize);
    let wide = p.storage_bits_per_pixel > 24;
    let shift = u32::from(p.bits_per_pixel.saturating_sub(8));
    let mut pixels = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let line = row.checked_mul(p.stride).and_then(|at| p.data.get(at..)).ok_or_else(short)?;
        if wide {
            let line = line.get(..w * 6).ok_or_else(short)?;
            pixels.extend(line.chunks_exact(2).map(|b| (u16::from_le_bytes([b[0], b[1]]) >> shift).min(255) as u8));
        } else {
            pixels.extend_from_slice(line.get(..w * 3).ok_or_else(short)?);
        }
    }
    RgbImage::from_raw(p.width, p.height, pixels).ok_or_else(short)
}

/// A JPEG XL image as RGB, upright (jxl-oxide applies the codestream's orientation).
fn jxl(path: &Path, data: &[u8]) -> Result<RgbImage, MediaError> {
    let bad = |e: &dyn std::fmt::Display| corrupt(path, format!("JPEG XL: {e}"));
    let mut header = jxl_oxide::JxlImage::builder().build_uninit();
    header.feed_bytes(data).map_err(|e| bad(&e))?;
    match header.try_init().map_err(|e| bad(&e))? {
        jxl_oxide::InitializeResult::Initialized(image) => check_dimensions(path, image.width(), image.height())?,
        jxl_oxide::InitializeResult::NeedMoreData(_) => return Err(bad(&"header is cut short")),
    }
    let image = jxl_oxide::JxlImage::builder().read(Cursor::new(data)).map_err(|e| bad(&e))?;
    let render = image.render_frame(0).map_err(|e| bad(&e))?;
    let mut stream = render.stream_no_alpha();
    let (w, h, channels) = (stream.width(), stream.height(), stream.channels() as usize);
    if channels == 0 {
        return Err(bad(&"no colour channels"));
    }
    let mut buf = vec![0u8; w as usize * h as usize * channels];
    stream.write_to_buffer(&mut buf);
    let pixels: Vec<u8> = match channels {
        1 | 2 => buf.chunks_exact(channels).flat_map(|p| [p[0]; 3]).collect(),
        // RGB (a CMYK image's first three channels stand in).
        _ => buf.chunks_exact(channels).flat_map(|p| [p[0], p[1], p[2]]).collect(),
    };
    RgbImage::from_raw(w, h, pixels).ok_or_else(|| bad(&"decoded buffer has the wrong size"))
}

/// The size a `w`×`h` image takes to fit in `max_side` (never larger).
pub fn fitted_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max_side {
        return (w, h);
    }
    let scale = |s: u32| ((u64::from(s) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long)).max(1) as u32;
    (scale(w), scale(h))
}

/// Shrinks to fit in `max_side` by area averaging (no upscaling).
fn fit(rgb: RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = fitted_size(rgb.width(), rgb.height(), max_side);
    if (w, h) == rgb.dimensions() {
        return rgb;
    }
    imageops::thumbnail(&rgb, w, h)
}

/// Turns pixels by an EXIF orientation (1–8; anything else leaves them).
pub fn orient(rgb: RgbImage, orientation: u16) -> RgbImage {
    match orientation {
        2 => imageops::flip_horizontal(&rgb),
        3 => imageops::rotate180(&rgb),
        4 => imageops::flip_vertical(&rgb),
        5 => imageops::flip_horizontal(&imageops::rotate90(&rgb)),
        6 => imageops::rotate90(&rgb),
        7 => imageops::flip_horizontal(&imageops::rotate270(&rgb)),
        8 => imageops::rotate270(&rgb),
        _ => rgb,
    }
}

/// Encodes RGB as a JPEG with libjpeg-turbo.
fn encode(path: &Path, rgb: &RgbImage) -> Result<Thumb, MediaError> {
    use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};
    let err = |e: turbojpeg::Error| corrupt(path, format!("cannot encode the thumbnail: {e}"));
    let (width, height) = rgb.dimensions();
    let mut c = Compressor::new().map_err(err)?;
    c.set_quality(QUALITY).map_err(err)?;
    c.set_subsamp(Subsamp::Sub2x2).map_err(err)?;
    let image = Image {
        pixels: rgb.as_raw().as_slice(),
        width: width as usize,
        pitch: width as usize * 3,
        height: height as usize,
        format: PixelFormat::RGB,
    };
    let jpeg = c.compress_to_vec(image).map_err(err)?;
    Ok(Thumb { jpeg, width, height })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A 4×2 image whose top-left pixel is red, the rest black.
    fn marked() -> RgbImage {
        let mut img = RgbImage::new(4, 2);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        img
    }

    fn red_at(img: &RgbImage) -> (u32, u32) {
        let (x, y, _) = img.enumerate_pixels().find(|(_, _, p)| p[0] == 255).expect("red pixel");
        (x, y)
    }

    #[test]
    fn orientations_put_the_stored_top_left_where_exif_says() {
        // Where the stored image's top-left pixel lands after turning it upright.
        let cases = [(1, (4, 2), (0, 0)), (2, (4, 2), (3, 0)), (3, (4, 2), (3, 1)), (4, (4, 2), (0, 1))];
        let turned = [(5, (2, 4), (0, 0)), (6, (2, 4), (1, 0)), (7, (2, 4), (1, 3)), (8, (2, 4), (0, 3))];
        for (o, size, at) in cases.into_iter().chain(turned) {
            let out = orient(marked(), o);
            assert_eq!(out.dimensions(), size, "orientation {o}");
            assert_eq!(red_at(&out), at, "orientation {o}");
        }
        assert_eq!(orient(marked(), 0).dimensions(), (4, 2));
        assert_eq!(orient(marked(), 9).dimensions(), (4, 2));
    }

    #[test]
    fn orientations_agree_with_the_hash_path() {
        // decode.rs turns grayscale with phash::Gray::oriented: the same turns.
        let mut img = RgbImage::new(5, 3);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([(x * 40 + y * 7) as u8; 3]);
        }
        let gray = crate::phash::Gray { width: 5, height: 3, pixels: img.pixels().map(|p| p[0]).collect() };
        for o in 1..=8 {
            let g = gray.clone().oriented(o);
            let r = orient(img.clone(), o);
            assert_eq!((g.width as u32, g.height as u32), r.dimensions(), "orientation {o}");
            assert_eq!(g.pixels, r.pixels().map(|p| p[0]).collect::<Vec<_>>(), "orientation {o}");
        }
    }

    #[test]
    fn sizes_fit_the_longest_side_and_never_grow() {
        assert_eq!(fitted_size(4000, 3000, 256), (256, 192));
        assert_eq!(fitted_size(3000, 4000, 256), (192, 256));
        assert_eq!(fitted_size(100, 50, 256), (100, 50));
        assert_eq!(fitted_size(10000, 1, 256), (256, 1));
        assert_eq!(jpeg_scale(4032, 3024, 256), 8);
        assert_eq!(jpeg_scale(1500, 1000, 256), 4);
        assert_eq!(jpeg_scale(300, 200, 256), 1);
    }

    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(img).expect("encode test JPEG");
        out
    }

    #[test]
    fn a_jpeg_becomes_a_smaller_jpeg() {
        let img = RgbImage::from_fn(640, 320, |x, _| Rgb([(x / 3) as u8, 100, 200]));
        let t = thumbnail_bytes(Path::new("t.jpg"), &jpeg_of(&img), 128).expect("thumbnail");
        assert_eq!((t.width, t.height), (128, 64));
        let back = image::load_from_memory(&t.jpeg).expect("decodes").into_rgb8();
        assert_eq!(back.dimensions(), (128, 64));
        let p = back.get_pixel(64, 32);
        assert!(p[1].abs_diff(100) < 12 && p[2].abs_diff(200) < 12, "colour kept: {p:?}");
    }

    /// A JPEG with an EXIF APP1 holding only `Orientation = orientation`.
    fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
        let plain = jpeg_of(img);
        let mut tiff = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    /// 200×100, red in the stored top-left corner, blue elsewhere.
    fn corner() -> RgbImage {
        RgbImage::from_fn(200, 100, |x, y| if x < 40 && y < 40 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) })
    }

    fn assert_turned_6(t: &Thumb, what: &str) {
        let back = image::load_from_memory(&t.jpeg).expect("decodes").into_rgb8();
        assert_eq!(back.dimensions(), (100, 200), "{what}");
        let p = back.get_pixel(95, 5);
        assert!(p[0] > 200 && p[2] < 60, "{what}: red corner top right, found {p:?}");
    }

    #[test]
    fn a_jpeg_and_a_raw_preview_are_turned_by_their_exif_orientation() {
        let jpeg = jpeg_with_orientation(&corner(), 6);
        assert_turned_6(&thumbnail_bytes(Path::new("six.jpg"), &jpeg, 256).expect("thumbnail"), "JPEG");
        // A RAF: header, preview offset and length at 84, the JPEG preview carrying the orientation.
        let mut raf = b"FUJIFILMCCD-RAW 0201FF383501".to_vec();
        raf.resize(84, 0);
        raf.extend_from_slice(&100u32.to_be_bytes());
        raf.extend_from_slice(&(jpeg.len() as u32).to_be_bytes());
        raf.resize(100, 0);
        raf.extend_from_slice(&jpeg);
        assert_turned_6(&thumbnail_bytes(Path::new("six.raf"), &raf, 256).expect("thumbnail"), "RAF");
        raf.truncate(100 + jpeg.len() / 2);
        assert!(thumbnail_bytes(Path::new("cut.raf"), &raf, 256).is_err(), "a preview cut short");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let p = Path::new("bad.jpg");
        assert!(matches!(thumbnail_bytes(p, b"", 128), Err(MediaError::Empty { .. })));
        assert!(thumbnail_bytes(p, b"hello, world", 128).is_err());
        let good = jpeg_of(&RgbImage::new(64, 64));
        for cut in [3, 20, 100, good.len() / 2] {
            let _ = thumbnail_bytes(p, &good[..cut], 128); // no panic; libjpeg-turbo may pad a cut scan
        }
        assert!(thumbnail_bytes(p, &good[..20], 128).is_err());
        assert!(thumbnail_bytes(Path::new("x.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 128).is_err());
        assert!(thumbnail_bytes(Path::new("x.heic"), b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", 128).is_err());
        assert!(thumbnail_bytes(Path::new("x.jxl"), b"\xff\x0a\0", 128).is_err());
    }

    #[test]
    fn a_png_with_alpha_is_flattened_over_white() {
        let img = image::RgbaImage::from_pixel(20, 10, image::Rgba([0, 0, 0, 0]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
        let t = thumbnail_bytes(Path::new("a.png"), &png, 64).expect("thumbnail");
        assert_eq!((t.width, t.height), (20, 10));
        let back = image::load_from_memory(&t.jpeg).expect("decodes").into_rgb8();
        assert!(back.get_pixel(10, 5)[0] > 240);
    }
}
