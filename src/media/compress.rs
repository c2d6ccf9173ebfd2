//! Re-encoding images smaller without losing what matters: bytes in, bytes
//! out, no file access (the engine reads, `fsops` writes).
//!
//! - JPEG: decoded and re-encoded with libjpeg-turbo (Huffman-optimised,
//!   progressive at level 3) at the level's quality, keeping the original's chroma
//!   subsampling, and every metadata segment of the original (EXIF with its
//!   orientation tag, as the pixels are not turned; XMP; the ICC profile;
//!   IPTC; comments) spliced back in. A JPEG whose quantisation tables say it
//!   is already at or below the target quality is left alone unless forced,
//!   as are CMYK and lossless JPEGs and files carrying extra images (MPF,
//!   motion photos: [`crate::media::motion`]) whose offsets a re-encode
//!   would break or whose video it would drop.
//! - HEIC is never re-encoded here; converting one to JPEG (`--to-jpeg`)
//!   is refused for a motion photo, whose video a JPEG would lose.
//! - PNG: losslessly re-compressed by oxipng, every chunk kept.
//! - BMP / TIFF: converted losslessly to PNG (only when asked), ICC kept.

use crate::media::Kind;

/// How hard to compress: the CLI's `--level` and `compress.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Level(u8);

impl Level {
    /// Level 1 (high quality), 2 (balanced, the default) or 3 (maximum).
    pub fn new(n: u8) -> Option<Level> {
        (1..=3).contains(&n).then_some(Level(n))
    }

    /// The number, 1..=3.
    pub fn get(self) -> u8 {
        self.0
    }

    /// JPEG quality: 95, 85, 75.
    pub fn jpeg_quality(self) -> u8 {
        match self.0 {
            1 => 95,
            2 => 85,
            _ => 75,
        }
    }

    /// Progressive JPEG scans: 2–4 % smaller at identical pixels but half the
    /// encode speed (BENCHMARKS.md), so only where size is all: level 3.
    pub fn progressive(self) -> bool {
        self.0 == 3
    }

    /// H.264 CRF: 18, 23, 28.
    pub fn crf(self) -> u8 {
        match self.0 {
            1 => 18,
            2 => 23,
            _ => 28,
        }
    }
}

impl Default for Level {
    fn default() -> Level {
        Level(2)
    }
}

/// What became of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recompressed {
    /// New, smaller bytes.
    Smaller(Vec<u8>),
    /// Left as it was, and why (not smaller, already at the quality, a kind we keep).
    Keep(String),
}

/// Why an image could not be compressed (it is then copied as it is).
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// The decoder or encoder refused it.
    #[error("{0}")]
    Codec(String),
}

fn codec(e: impl std::fmt::Display) -> CompressError {
    CompressError::Codec(e.to_string())
}

/// One JPEG marker segment before the first scan: marker byte and the
/// whole segment (marker, length and payload).
struct Segment<'a> {
    marker: u8,
    bytes: &'a [u8],
}

/// The marker segments from SOI up to (not including) SOS, and the offset
/// where the scan data starts. `None` when the structure is broken.
fn header_segments(data: &[u8]) -> Option<(Vec<Segment<'_>>, usize)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    let mut out = Vec::new();
    loop {
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(pos + 1)?;
        if marker == 0xDA {
            return Some((out, pos));
        }
        let len = u16::from_be_bytes([*data.get(pos + 2)?, *data.get(pos + 3)?]) as usize;
        let end = pos + 2 + len;
        if len < 2 || end > data.len() {
            return None;
        }
        out.push(Segment { marker, bytes: &data[pos..end] });
        pos = end;
    }
}

/// Metadata segments to carry over: APP1..APP13, APP15 and COM (EXIF, XMP,
/// ICC, IPTC, comments), and the original's JFIF APP0. Not APP14 (Adobe):
/// its colour-transform flag describes the old encoding, not ours.
fn is_carried(marker: u8) -> bool {
    matches!(marker, 0xE0..=0xED | 0xEF | 0xFE)
}

fn payload_starts(seg: &Segment<'_>, tag: &[u8]) -> bool {
    seg.bytes.get(4..).is_some_and(|p| p.starts_with(tag))
}

/// The standard (Annex K) luminance quantisation table, in zig-zag order
/// as stored in DQT.
const STD_LUMA_ZIGZAG: [u16; 64] = [
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51, 61,
    60, 57, 51, 56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103, 62, 77, 113,
    121, 112, 100, 120, 92, 101, 103, 99,
];

/// The libjpeg quality (1..=100) whose scaled standard luminance table is
/// closest to this file's table 0, by the sum of entries (as ImageMagick's
/// estimate). `None` without a usable DQT.
pub fn estimate_jpeg_quality(data: &[u8]) -> Option<u8> {
    let (segments, _) = header_segments(data)?;
    let mut luma: Option<Vec<u16>> = None;
    for seg in segments.iter().filter(|s| s.marker == 0xDB) {
        let mut p = &seg.bytes[4..];
        while let Some(&pq_tq) = p.first() {
            let (precision, id) = (pq_tq >> 4, pq_tq & 0x0F);
            let n = if precision == 0 { 64 } else { 128 };
            let table = p.get(1..1 + n)?;
            if id == 0 {
                luma = Some(if precision == 0 {
                    table.iter().map(|&v| u16::from(v)).collect()
                } else {
                    table.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
                });
            }
            p = &p[1 + n..];
        }
    }
    let actual: u32 = luma?.iter().map(|&v| u32::from(v)).sum();
    (1..=100u32)
        .min_by_key(|&q| {
            let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
            let sum: u32 = STD_LUMA_ZIGZAG.iter().map(|&s| ((u32::from(s) * scale + 50) / 100).clamp(1, 255)).sum();
            sum.abs_diff(actual)
        })
        .map(|q| q as u8)
}

/// Why a motion photo is kept: "a motion photo (Google, video of 7352 bytes inside); kept whole".
pub fn motion_kept(m: &crate::media::motion::Motion) -> String {
    format!("a motion photo ({}, video of {} bytes inside); kept whole", m.vendor, m.video_len)
}

/// Re-encodes a JPEG at `quality`, keeping its metadata. `force` re-encodes
/// even a file already at or below that quality.
pub fn recompress_jpeg(
    data: &[u8],
    quality: u8,
    progressive: bool,
    force: bool,
) -> Result<Recompressed, CompressError> {
    let (segments, _) = header_segments(data).ok_or_else(|| codec("broken JPEG marker structure"))?;
    if let Some(m) = crate::media::motion::detect(data, Kind::Jpeg) {
        return Ok(Recompressed::Keep(motion_kept(&m)));
    }
    if segments.iter().any(|s| s.marker == 0xE2 && payload_starts(s, b"MPF\0")) {
        return Ok(Recompressed::Keep("carries extra images (MPF); kept whole".into()));
    }
    // The real end of the image, not the last FF D9 (one may sit in the trailer).
    if crate::media::jpeg::image_end(data).is_ok_and(|end| data.len() - end > 16) {
        return Ok(Recompressed::Keep("has data after its image (a motion photo?); kept whole".into()));
    }
    if let (false, Some(q)) = (force, estimate_jpeg_quality(data)) {
        if q <= quality {
            return Ok(Recompressed::Keep(format!(
                "already at quality ~{q}, at or below {quality}; not re-encoded (--force to do it anyway)"
            )));
        }
    }
    let mut dec = turbojpeg::Decompressor::new().map_err(codec)?;
    let header = dec.read_header(data).map_err(codec)?;
    if header.is_lossless {
        return Ok(Recompressed::Keep("a lossless JPEG; kept".into()));
    }
    let (format, subsamp) = match header.colorspace {
        turbojpeg::Colorspace::Gray => (turbojpeg::PixelFormat::GRAY, turbojpeg::Subsamp::Gray),
        turbojpeg::Colorspace::YCbCr | turbojpeg::Colorspace::RGB => (turbojpeg::PixelFormat::RGB, header.subsamp),
        _ => return Ok(Recompressed::Keep("a CMYK JPEG; kept".into())),
    };
    let (w, h) = (header.width, header.height);
    let pitch = w * format.size();
    let mut pixels = vec![0u8; pitch * h];
    let image = turbojpeg::Image { pixels: pixels.as_mut_slice(), width: w, pitch, height: h, format };
    dec.decompress(data, image).map_err(codec)?;

    // Subsampling modes the encoder does not know (4:1:1 and the like) become 4:2:0.
    let subsamp = match subsamp {
        turbojpeg::Subsamp::None
        | turbojpeg::Subsamp::Sub2x1
        | turbojpeg::Subsamp::Sub2x2
        | turbojpeg::Subsamp::Sub1x2
        | turbojpeg::Subsamp::Gray => subsamp,
        _ => turbojpeg::Subsamp::Sub2x2,
    };
    let encoded = encode(&pixels, w, h, format, quality, subsamp, progressive)?;

    let out = splice_metadata(&segments, &encoded).ok_or_else(|| codec("encoder output has no scan"))?;
    if out.len() >= data.len() {
        return Ok(Recompressed::Keep(format!("re-encoded at quality {quality} it was not smaller; kept")));
    }
    Ok(Recompressed::Smaller(out))
}

/// SOI, the original's metadata segments in their order, then the new
/// file's coding segments (its own APPn dropped) and scans.
fn splice_metadata(original: &[Segment<'_>], encoded: &[u8]) -> Option<Vec<u8>> {
    let (new_segments, scan_start) = header_segments(encoded)?;
    let mut out = Vec::with_capacity(encoded.len() + original.iter().map(|s| s.bytes.len()).sum::<usize>());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let had_jfif = original.iter().any(|s| s.marker == 0xE0);
    for s in original.iter().filter(|s| is_carried(s.marker)) {
        out.extend_from_slice(s.bytes);
    }
    for s in &new_segments {
        let app = (0xE0..=0xEF).contains(&s.marker);
        // Ours: the JFIF APP0 only when the original had none and no EXIF (a bare JPEG).
        let keep_jfif = s.marker == 0xE0 && !had_jfif && !original.iter().any(|o| o.marker == 0xE1);
        if !app || keep_jfif {
            out.extend_from_slice(s.bytes);
        }
    }
    out.extend_from_slice(&encoded[scan_start..]);
    Some(out)
}

/// Losslessly re-compresses a PNG (oxipng, every chunk kept).
pub fn recompress_png(data: &[u8]) -> Result<Recompressed, CompressError> {
    let mut opts = oxipng::Options::from_preset(3);
    opts.strip = oxipng::StripChunks::None;
    let out = oxipng::optimize_from_memory(data, &opts).map_err(codec)?;
    if out.len() >= data.len() {
        return Ok(Recompressed::Keep("already as small as lossless PNG gets; kept".into()));
    }
    Ok(Recompressed::Smaller(out))
}

/// Converts a BMP or TIFF losslessly to an optimised PNG (same pixels, bit
/// depth where PNG has it, ICC profile kept).
pub fn convert_to_png(data: &[u8], kind: Kind) -> Result<Vec<u8>, CompressError> {
    use image::ImageDecoder;
    let format = match kind {
        Kind::Bmp => image::ImageFormat::Bmp,
        Kind::Tiff => image::ImageFormat::Tiff,
        other => return Err(codec(format!("cannot convert {} to PNG", other.name()))),
    };
    let mut decoder =
        image::ImageReader::with_format(std::io::Cursor::new(data), format).into_decoder().map_err(codec)?;
    let icc = decoder.icc_profile().ok().flatten();
    let img = image::DynamicImage::from_decoder(decoder).map_err(codec)?;
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        let mut enc = image::codecs::png::PngEncoder::new(&mut png);
        if let Some(icc) = icc {
            // An encoder that cannot embed it is no reason to fail.
            let _ = enc.set_icc_profile(icc);
        }
        let color = img.color().into();
        enc.write_image(img.as_bytes(), img.width(), img.height(), color).map_err(codec)?;
    }
    match recompress_png(&png)? {
        Recompressed::Smaller(b) => Ok(b),
        Recompressed::Keep(_) => Ok(png),
    }
}

/// Converts a HEIC/HEIF image to a JPEG at `quality` (for `--to-jpeg`):
/// the primary image decoded upright by libheif (its `irot`/`imir` applied),
/// with the file's EXIF (orientation reset to 1, as the pixels are now
/// upright), XMP and ICC profile carried into APP1/APP2 segments.
pub fn heif_to_jpeg(data: &[u8], quality: u8) -> Result<Vec<u8>, CompressError> {
    use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};
    let ctx = HeifContext::read_from_bytes(data).map_err(codec)?;
    let handle = ctx.primary_image_handle().map_err(codec)?;
    let image = LibHeif::new().decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(codec)?;
    let planes = image.planes();
    let plane = planes.interleaved.ok_or_else(|| codec("HEIF decode gave no RGB plane"))?;
    let (w, h) = (plane.width as usize, plane.height as usize);
    let mut pixels = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let line =
            plane.data.get(row * plane.stride..row * plane.stride + w * 3).ok_or_else(|| codec("short plane"))?;
        pixels.extend_from_slice(line);
    }
    let encoded = encode(&pixels, w, h, turbojpeg::PixelFormat::RGB, quality, turbojpeg::Subsamp::Sub2x2, true)?;

    let mut meta: Vec<Vec<u8>> = Vec::new();
    for m in handle.all_metadata() {
        if &m.item_type.to_string() == "Exif" && m.raw_data.len() > 4 {
            // A 4-byte offset to the TIFF header comes first.
            let skip = u32::from_be_bytes([m.raw_data[0], m.raw_data[1], m.raw_data[2], m.raw_data[3]]) as usize;
            if let Some(tiff) = m.raw_data.get(4 + skip..) {
                let mut tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff).to_vec();
                set_orientation_upright(&mut tiff);
                meta.push(app_segment(0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat()));
            }
        } else if m.content_type == "application/rdf+xml" {
            meta.push(app_segment(0xE1, &[b"http://ns.adobe.com/xap/1.0/\0".as_slice(), &m.raw_data].concat()));
        }
    }
    if let Some(icc) = handle.color_profile_raw().filter(|p| !p.data.is_empty()) {
        let chunks: Vec<&[u8]> = icc.data.chunks(65_519 - 14).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let head = [b"ICC_PROFILE\0".as_slice(), &[(i + 1) as u8, chunks.len() as u8]].concat();
            meta.push(app_segment(0xE2, &[head.as_slice(), chunk].concat()));
        }
    }
    let segments: Vec<Segment<'_>> =
        meta.iter().filter(|m| m.len() <= 65_537).map(|m| Segment { marker: m[1], bytes: m.as_slice() }).collect();
    splice_metadata(&segments, &encoded).ok_or_else(|| codec("encoder output has no scan"))
}

/// Converts a still GIF to a JPEG at `quality` (for `--to-jpeg`),
/// transparent pixels on white. An animated GIF is kept: a JPEG would keep
/// only its first frame.
pub fn gif_to_jpeg(data: &[u8], quality: u8) -> Result<Recompressed, CompressError> {
    use image::AnimationDecoder;
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(data)).map_err(codec)?.into_frames();
    let mut first = None;
    for (i, frame) in frames.enumerate() {
        let frame = frame.map_err(codec)?;
        if i > 0 {
            return Ok(Recompressed::Keep("an animated GIF; kept, as a JPEG would keep only its first frame".into()));
        }
        first = Some(frame.into_buffer());
    }
    let rgba = first.ok_or_else(|| codec("GIF has no frame"))?;
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let rgb: Vec<u8> = rgba
        .pixels()
        .flat_map(|p| {
            let a = u32::from(p[3]);
            [0, 1, 2].map(|c| ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8)
        })
        .collect();
    let rgb_format = turbojpeg::PixelFormat::RGB;
    Ok(Recompressed::Smaller(encode(&rgb, w, h, rgb_format, quality, turbojpeg::Subsamp::Sub2x2, false)?))
}

/// Encodes tightly packed pixels as a Huffman-optimised JPEG.
fn encode(
    pixels: &[u8],
    w: usize,
    h: usize,
    format: turbojpeg::PixelFormat,
    quality: u8,
    subsamp: turbojpeg::Subsamp,
    progressive: bool,
) -> Result<Vec<u8>, CompressError> {
    let mut enc = turbojpeg::Compressor::new().map_err(codec)?;
    enc.set_quality(i32::from(quality)).map_err(codec)?;
    enc.set_subsamp(subsamp).map_err(codec)?;
    enc.set_optimize(true).map_err(codec)?;
    enc.set_progressive(progressive).map_err(codec)?;
    let image = turbojpeg::Image { pixels, width: w, pitch: w * format.size(), height: h, format };
    enc.compress_to_vec(image).map_err(codec)
}

/// An APPn (or any) marker segment with `payload`.
fn app_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + 2).min(usize::from(u16::MAX)) as u16;
    [&[0xFF, marker][..], &len.to_be_bytes(), payload].concat()
}

/// Sets the Orientation tag (0x0112) of IFD0 in a TIFF/EXIF block to 1.
fn set_orientation_upright(tiff: &mut [u8]) {
    let le = match tiff.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return,
    };
    let u16_at = |t: &[u8], i: usize| {
        t.get(i..i + 2).map(|b| if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let u32_at = |t: &[u8], i: usize| {
        t.get(i..i + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        })
    };
    let Some(ifd) = u32_at(tiff, 4).map(|o| o as usize) else { return };
    let Some(count) = u16_at(tiff, ifd) else { return };
    for i in 0..usize::from(count) {
        let entry = ifd + 2 + i * 12;
        if u16_at(tiff, entry) == Some(0x0112) {
            let one = if le { 1u16.to_le_bytes() } else { 1u16.to_be_bytes() };
            if let Some(v) = tiff.get_mut(entry + 8..entry + 10) {
                v.copy_from_slice(&one);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(q: i32, w: usize, h: usize) -> Vec<u8> {
        let pixels: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7) % 251) as u8).collect();
        let image = turbojpeg::Image {
            pixels: pixels.as_slice(),
            width: w,
            pitch: w * 3,
            height: h,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(image, q, turbojpeg::Subsamp::Sub2x2).unwrap().to_vec()
    }

    #[test]
    fn quality_is_read_back_from_the_quantisation_tables() {
        for q in [50, 75, 85, 92, 95, 100] {
            let est = estimate_jpeg_quality(&encode(q, 64, 64)).unwrap();
            assert!((i32::from(est) - q).abs() <= 1, "q{q} estimated as {est}");
        }
        assert_eq!(estimate_jpeg_quality(b"not a jpeg"), None);
    }

    #[test]
    fn a_jpeg_at_or_below_the_target_is_kept_unless_forced() {
        let q75 = encode(75, 64, 64);
        assert!(
            matches!(recompress_jpeg(&q75, 85, false, false).unwrap(), Recompressed::Keep(why) if why.contains("already at quality"))
        );
        // Forced, it is re-encoded (whatever the outcome, not for that reason).
        assert!(
            !matches!(recompress_jpeg(&q75, 85, false, true).unwrap(), Recompressed::Keep(why) if why.contains("already"))
        );
        // A q98 file at level 2 comes out smaller, decodes, same size.
        let Recompressed::Smaller(out) = recompress_jpeg(&encode(98, 64, 64), 85, true, false).unwrap() else {
            panic!("q98 -> q85 should shrink")
        };
        let h = turbojpeg::read_header(&out).unwrap();
        assert_eq!((h.width, h.height), (64, 64));
        assert_eq!(estimate_jpeg_quality(&out), Some(85));
    }

    #[test]
    fn a_motion_photo_or_a_jpeg_with_a_trailer_is_kept_whole_even_with_ff_d9_at_its_end() {
        let q98 = encode(98, 64, 64);
        let mp4 = b"\0\0\0\x10ftypisom\0\0\0\0\0\0\0\x14mdat\xff\xd9\xff\xd9\xff\xd9\xff\xd9\xff\xd9\xff\xd9";
        let motion = [q98.as_slice(), b"MotionPhoto_Data", mp4].concat();
        let Recompressed::Keep(why) = recompress_jpeg(&motion, 85, false, true).unwrap() else { panic!("re-encoded") };
        assert_eq!(why, "a motion photo (Samsung, video of 36 bytes inside); kept whole");
        // Unknown data after the image whose last bytes are FF D9: not taken for the image's end.
        let trailer = [q98.as_slice(), &[7u8; 64], b"\xff\xd9"].concat();
        let Recompressed::Keep(why) = recompress_jpeg(&trailer, 85, false, true).unwrap() else { panic!("re-encoded") };
        assert!(why.contains("data after its image"), "{why}");
    }

    #[test]
    fn levels_map_to_qualities_and_crfs() {
        let l = |n| Level::new(n).unwrap();
        assert_eq!((l(1).jpeg_quality(), l(2).jpeg_quality(), l(3).jpeg_quality()), (95, 85, 75));
        assert_eq!((l(1).crf(), l(2).crf(), l(3).crf()), (18, 23, 28));
        assert_eq!(Level::default(), l(2));
        assert!(Level::new(0).is_none() && Level::new(4).is_none());
    }
}
