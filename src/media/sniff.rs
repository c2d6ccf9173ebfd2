//! Kind sniffing from magic bytes.

use super::Kind;

/// How many bytes of a file's head `sniff_bytes` wants (M2TS needs two packets).
pub const HEAD_LEN: usize = 512;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Sniffs the kind from the first bytes of a file (`HEAD_LEN` are best).
pub fn sniff_bytes(h: &[u8]) -> Option<Kind> {
    let starts = |m: &[u8]| h.starts_with(m);
    let at = |i: usize, m: &[u8]| h.get(i..i + m.len()) == Some(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(Kind::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(Kind::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(Kind::Gif);
    }
    if super::jxl::is_jxl(h) {
        return Some(Kind::Jxl);
    }
    if super::jp2::is_jp2(h) {
        return Some(Kind::Jp2);
    }
    if starts(b"II\x1a\0\0\0HEAPCCDR") {
        return Some(Kind::Crw);
    }
    if starts(b"\0MRM") {
        return Some(Kind::Mrw);
    }
    if starts(b"FOVb") {
        return Some(Kind::X3f);
    }
    if starts(b"FUJIFILMCCD-RAW") {
        return Some(Kind::Raf);
    }
    if starts(b"IIRO") || starts(b"IIRS") || starts(b"MMOR") {
        return Some(Kind::Orf);
    }
    if starts(b"IIU\0") {
        return Some(Kind::Rw2);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some(if at(8, b"CR") { Kind::Cr2 } else { Kind::Tiff });
    }
    if starts(b"RIFF") && at(8, b"WEBP") {
        return Some(Kind::Webp);
    }
    if starts(b"RIFF") && at(8, b"AVI ") {
        return Some(Kind::Avi);
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Kind::Matroska);
    }
    if starts(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        return Some(Kind::Asf);
    }
    if starts(b"FLV\x01") {
        return Some(Kind::Flv);
    }
    if starts(b"BM") && h.len() >= 18 && matches!(h[14], 12 | 40 | 52 | 56 | 64 | 108 | 124) && h[15..18] == [0, 0, 0] {
        return Some(Kind::Bmp);
    }
    if at(4, b"ftyp") {
        return ftyp_kind(h);
    }
    if [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"].iter().any(|t| at(4, *t))
        && be32(h, 0).is_some_and(|n| n >= 8 || n == 1)
    {
        return Some(Kind::Mov);
    }
    // MPEG transport stream: 188-byte packets (.ts) or 192-byte (.m2ts/.mts, 4-byte timecode first).
    if h.len() >= 192 * 2 + 5 && h[4] == 0x47 && h[196] == 0x47 && h[388] == 0x47 {
        return Some(Kind::M2ts);
    }
    if h.len() > 188 * 2 && h[0] == 0x47 && h[188] == 0x47 && h[376] == 0x47 {
        return Some(Kind::M2ts);
    }
    None
}

/// ISO-BMFF: the major brand, then the compatible brands, decide.
fn ftyp_kind(h: &[u8]) -> Option<Kind> {
    let size = be32(h, 0)? as usize;
    // (A head shorter than 16 bytes has no compatible brands; clamp would panic on it.)
    let end = size.min(h.len()).max(16);
    let major = h.get(8..12)?;
    let compatible: Vec<&[u8]> = h.get(16..end).unwrap_or_default().chunks_exact(4).collect();
    let brands = std::iter::once(major).chain(compatible.iter().copied());
    let mut kind = None;
    for b in brands {
        let k = match b {
            b"avif" | b"avis" => Some(Kind::Avif),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs" => Some(Kind::Heif),
            b"crx " => Some(Kind::Cr3),
            b"qt  " => Some(Kind::Mov),
            b"mif1" | b"msf1" => Some(Kind::Heif),
            _ if b.starts_with(b"3gp") || b.starts_with(b"3g2") || b.starts_with(b"3ge") || b.starts_with(b"3gg") => {
                Some(Kind::ThreeGp)
            }
            b"isom" | b"iso2" | b"iso4" | b"iso5" | b"iso6" | b"mp41" | b"mp42" | b"M4V " | b"M4VH" | b"M4VP"
            | b"avc1" | b"dash" | b"mmp4" | b"MSNV" | b"XAVC" | b"f4v " | b"kddi" => Some(Kind::Mp4),
            _ => None,
        };
        match (kind, k) {
            // A major brand of mif1 with an avif compatible brand is AVIF.
            (Some(Kind::Heif), Some(Kind::Avif)) => return Some(Kind::Avif),
            (None, Some(k)) => {
                kind = Some(k);
                if b == major && k != Kind::Heif {
                    return kind;
                }
            }
            _ => {}
        }
    }
    kind
}

/// What a non-media file looks like, for error messages ("a PDF document").
pub fn describe(h: &[u8]) -> &'static str {
    let starts = |m: &[u8]| h.starts_with(m);
    if starts(b"%PDF") {
        "a PDF document"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive (or Office document)"
    } else if starts(b"\x1f\x8b") {
        "a gzip archive"
    } else if starts(b"Rar!") {
        "a RAR archive"
    } else if starts(b"7z\xbc\xaf") {
        "a 7-Zip archive"
    } else if starts(b"\x7fELF") {
        "a program"
    } else if starts(b"ID3") || starts(&[0xFF, 0xFB]) {
        "an MP3 audio file"
    } else if starts(b"<!DOCTYPE") || starts(b"<html") || starts(b"<?xml") {
        "an HTML or XML document"
    } else if !h.is_empty()
        && std::str::from_utf8(h).is_ok_and(|s| s.chars().all(|c| !c.is_control() || c.is_whitespace()))
    {
        "text"
    } else {
        "data of an unrecognised kind"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_cut_short_inside_its_ftyp_box_is_no_panic() {
        // fuzz/regressions/exif_dates/sniff_ftyp_short (found reading the code; kept as a fuzz regression).
        for n in 8..16 {
            let mut h = vec![0, 0, 0, 12];
            h.extend_from_slice(b"ftypheic0000");
            let _ = sniff_bytes(&h[..n]);
            let _ = describe(&h[..n]);
        }
    }

    fn ftyp(major: &[u8; 4], compat: &[&[u8; 4]]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((16 + 4 * compat.len()) as u32).to_be_bytes());
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        for c in compat {
            v.extend_from_slice(*c);
        }
        v
    }

    #[test]
    fn magic_bytes_decide_not_extensions() {
        assert_eq!(sniff_bytes(b"\xFF\xD8\xFF\xE1rest"), Some(Kind::Jpeg));
        assert_eq!(sniff_bytes(b"II*\0\x08\0\0\0CR\x02\0"), Some(Kind::Cr2));
        assert_eq!(sniff_bytes(b"MM\0*\0\0\0\x08"), Some(Kind::Tiff));
        assert_eq!(sniff_bytes(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(sniff_bytes(b"FUJIFILMCCD-RAW 0201"), Some(Kind::Raf));
        assert_eq!(sniff_bytes(&ftyp(b"heic", &[b"mif1", b"heic"])), Some(Kind::Heif));
        assert_eq!(sniff_bytes(&ftyp(b"mif1", &[b"avif", b"mif1"])), Some(Kind::Avif));
        assert_eq!(sniff_bytes(&ftyp(b"qt  ", &[b"qt  "])), Some(Kind::Mov));
        assert_eq!(sniff_bytes(&ftyp(b"3gp5", &[b"isom"])), Some(Kind::ThreeGp));
        assert_eq!(sniff_bytes(&ftyp(b"crx ", &[b"isom"])), Some(Kind::Cr3));
        assert_eq!(sniff_bytes(&ftyp(b"M4A ", &[b"M4A "])), None, "audio is not media here");
        assert_eq!(sniff_bytes(b"\0\0\0\x08wide\0\0\0\x10mdat"), Some(Kind::Mov));
        assert_eq!(sniff_bytes(b"\xff\x0a\xf8\x99"), Some(Kind::Jxl));
        assert_eq!(sniff_bytes(b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14ftypjxl "), Some(Kind::Jxl));
        assert_eq!(sniff_bytes(b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 "), Some(Kind::Jp2));
        assert_eq!(sniff_bytes(b"\xffO\xffQ\0\x2f"), Some(Kind::Jp2));
        assert_eq!(sniff_bytes(b"II\x1a\0\0\0HEAPCCDR\0\0\x01\0"), Some(Kind::Crw));
        assert_eq!(sniff_bytes(b"\0MRM\0\0\x01\0"), Some(Kind::Mrw));
        assert_eq!(sniff_bytes(b"FOVb\0\0\x02\0"), Some(Kind::X3f));
        assert_eq!(sniff_bytes(b"%PDF-1.4"), None);
        assert_eq!(sniff_bytes(b""), None);
        assert_eq!(sniff_bytes(b"BM"), None, "two letters are not a bitmap");
    }

    #[test]
    fn non_media_is_described() {
        assert_eq!(describe(b"%PDF-1.7"), "a PDF document");
        assert_eq!(describe(b"hello\nworld"), "text");
        assert_eq!(describe(&[0, 1, 2, 3]), "data of an unrecognised kind");
    }
}
