//! JPEG XL: the bare codestream (`FF 0A`) and the ISO-BMFF container
//! (`....JXL \r\n\x87\n`). The date comes from the container's `Exif` box
//! (a 4-byte offset to the TIFF header, then the TIFF block); the pixels from
//! `jxl-oxide`, a pure-Rust decoder, which also turns them upright by the
//! codestream's own orientation.

use std::path::Path;

use super::decode::{check_dimensions, upright, Decoded};
use super::MediaError;
use crate::phash::Gray;

/// The container's signature box.
pub const CONTAINER_MAGIC: &[u8] = b"\0\0\0\x0cJXL \r\n\x87\n";

/// True for a JPEG XL head: a bare codestream or the container.
pub fn is_jxl(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0x0A]) || head.starts_with(CONTAINER_MAGIC)
}

/// The top-level ISO-BMFF boxes of `data` as (type, payload); stops at the
/// first box whose size does not fit (a truncated file keeps what came before).
pub fn top_boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = data.get(at..at + 8) {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let typ = [head[4], head[5], head[6], head[7]];
        let (hdr, size) = match size {
            0 => (8u64, (data.len() - at) as u64),
            1 => match data.get(at + 8..at + 16) {
                Some(b) => (16, u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
                None => break,
            },
            n => (8, n),
        };
        let Some(end) = usize::try_from(size).ok().and_then(|s| at.checked_add(s)).filter(|&e| e <= data.len()) else {
            break;
        };
        if size < hdr {
            break;
        }
        out.push((typ, &data[at + hdr as usize..end]));
        at = end;
    }
    out
}

/// The TIFF block of a JPEG XL container's `Exif` box (after its 4-byte
/// offset to the TIFF header), or `None` for a bare codestream or no box.
pub fn exif_tiff(data: &[u8]) -> Option<&[u8]> {
    if !data.starts_with(CONTAINER_MAGIC) {
        return None;
    }
    let (_, payload) = top_boxes(data).into_iter().find(|(t, _)| t == b"Exif")?;
    let skip = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    payload.get(4usize.checked_add(skip)?..)
}

/// Decodes a JPEG XL image to upright 8-bit luma, refusing an absurd
/// declared size before decoding any pixel.
pub fn load_gray_bytes(path: &Path, data: &[u8]) -> Result<Decoded, MediaError> {
    let corrupt = |reason: String| MediaError::Corrupt { path: path.to_path_buf(), reason };
    let mut header = jxl_oxide::JxlImage::builder().build_uninit();
    header.feed_bytes(data).map_err(|e| corrupt(format!("JPEG XL header: {e}")))?;
    match header.try_init().map_err(|e| corrupt(format!("JPEG XL header: {e}")))? {
        jxl_oxide::InitializeResult::Initialized(image) => check_dimensions(path, image.width(), image.height())?,
        jxl_oxide::InitializeResult::NeedMoreData(_) => return Err(corrupt("JPEG XL header is cut short".into())),
    }
    let image = jxl_oxide::JxlImage::builder()
        .read(std::io::Cursor::new(data))
        .map_err(|e| corrupt(format!("cannot decode JPEG XL: {e}")))?;
    let render = image.render_frame(0).map_err(|e| corrupt(format!("cannot decode JPEG XL: {e}")))?;
    let mut stream = render.stream_no_alpha();
    let (w, h, channels) = (stream.width(), stream.height(), stream.channels() as usize);
    let mut buf = vec![0u8; w as usize * h as usize * channels];
    stream.write_to_buffer(&mut buf);
    let pixels = match channels {
        1 | 2 => buf.chunks_exact(channels).map(|p| p[0]).collect(),
        0 => return Err(corrupt("JPEG XL image has no colour channels".into())),
        // RGB (a CMYK image's first three channels stand in): Pillow's "L" luma, as decode.rs uses.
        _ => buf
            .chunks_exact(channels)
            .map(|p| {
                ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8
            })
            .collect(),
    };
    let gray = Gray { width: w as usize, height: h as usize, pixels };
    // The stream is already upright (jxl-oxide applies the codestream's orientation).
    Ok(upright(gray, w, h, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_containers_give_no_exif_and_no_panic() {
        assert_eq!(exif_tiff(b""), None);
        assert_eq!(exif_tiff(CONTAINER_MAGIC), None);
        let mut d = CONTAINER_MAGIC.to_vec();
        d.extend_from_slice(b"\0\0\0\x10Exif\xff\xff\xff\xffMM\0*");
        assert_eq!(exif_tiff(&d), None);
        let mut d = CONTAINER_MAGIC.to_vec();
        d.extend_from_slice(b"\0\0\0\x10Exif\0\0\0\0MM\0*");
        assert_eq!(exif_tiff(&d), Some(&b"MM\0*"[..]));
        d.extend_from_slice(b"\0\0\0\x01jxlc");
        assert_eq!(top_boxes(&d).len(), 2);
        assert!(load_gray_bytes(Path::new("x.jxl"), b"\xff\x0a\0").is_err());
    }
}
