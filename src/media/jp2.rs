//! JPEG 2000 (`.jp2` boxes, `.j2k` bare codestream). No maintained
//! pure-Rust decoder exists, so its pictures are matched by exact content
//! only; its date comes from the EXIF `uuid` box exiftool and cameras write
//! (`JpgTiffExif->JP2`, then a TIFF block), else the XMP packet.

use super::jxl::top_boxes;

/// The signature box of a JP2 file.
pub const JP2_MAGIC: &[u8] = b"\0\0\0\x0cjP  \r\n\x87\n";

/// A bare JPEG 2000 codestream: SOC then SIZ.
pub const J2K_MAGIC: &[u8] = &[0xFF, 0x4F, 0xFF, 0x51];

/// What the pHash column says for a JPEG 2000 picture.
pub const UNSUPPORTED: &str = "JPEG 2000: unsupported for pictures; matched by exact content only";

/// True for a JPEG 2000 head.
pub fn is_jp2(head: &[u8]) -> bool {
    head.starts_with(JP2_MAGIC) || head.starts_with(J2K_MAGIC)
}

/// The TIFF block of a JP2's EXIF `uuid` box.
pub fn exif_tiff(data: &[u8]) -> Option<&[u8]> {
    if !data.starts_with(JP2_MAGIC) {
        return None;
    }
    let (_, payload) = top_boxes(data).into_iter().find(|(t, p)| t == b"uuid" && p.starts_with(b"JpgTiffExif->JP2"))?;
    let tiff = payload.get(16..)?;
    Some(tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exif_uuid_box_is_found_and_garbage_is_no_panic() {
        let mut d = JP2_MAGIC.to_vec();
        d.extend_from_slice(b"\0\0\0\x1cuuidJpgTiffExif->JP2MM\0*");
        assert_eq!(exif_tiff(&d), Some(&b"MM\0*"[..]));
        assert_eq!(exif_tiff(&d[..20]), None);
        assert_eq!(exif_tiff(b"\xffO\xffQ"), None);
    }
}
