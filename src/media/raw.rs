//! The embedded full-size JPEG preview of RAW files, which is what we hash
//! (the camera's own rendering of the raw data, as the photographer saw it).
//!
//! RAF: the header gives the JPEG's offset (byte 84) and length (byte 88).
//! TIFF-based RAW (CR2, NEF, ARW, DNG): every IFD and SubIFD is walked for
//! `JPEGInterchangeFormat`/`Length` (0x201/0x202) pairs and single-strip
//! JPEG-compressed images (`Compression` 6 or 7); the largest block that is a
//! baseline or progressive JPEG (not the lossless-JPEG raw data) wins.
//! RW2 keeps its preview as JpgFromRaw (0x002e); CR3 in a `PRVW` box; CRW,
//! MRW and X3F are read in [`super::oldraw`].

use super::Kind;

/// Largest number of IFDs we visit (a loop in the chain must not hang us).
const MAX_IFDS: usize = 64;

struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }
    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }
    /// The values of an entry of type SHORT or LONG (or IFD).
    fn values(&self, entry: usize) -> Option<Vec<u32>> {
        let typ = self.u16_at(entry + 2)?;
        let count = self.u32_at(entry + 4)? as usize;
        let size = match typ {
            3 => 2,
            4 | 13 => 4,
            _ => return None,
        };
        if count == 0 || count > 4096 {
            return None;
        }
        let inline = count * size <= 4;
        let base = if inline { entry + 8 } else { self.u32_at(entry + 8)? as usize };
        (0..count)
            .map(|i| if size == 2 { self.u16_at(base + i * 2).map(u32::from) } else { self.u32_at(base + i * 4) })
            .collect()
    }
}

/// Is `data[off..off+len]` a JPEG we can decode (SOF0, SOF1 or SOF2)?
pub(crate) fn is_decodable_jpeg(data: &[u8], off: usize, len: usize) -> bool {
    let Some(jpeg) = off.checked_add(len).and_then(|end| data.get(off..end)) else { return false };
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return false;
        }
        let marker = jpeg[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if matches!(marker, 0xC0..=0xC2) {
            return true;
        }
        if matches!(marker, 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA) {
            return false;
        }
        let seg = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        i += 2 + seg;
    }
    false
}

/// The byte range of the largest decodable JPEG preview in a TIFF-based RAW.
pub(crate) fn tiff_preview(data: &[u8]) -> Option<(usize, usize)> {
    let big_endian = match data.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let t = Tiff { data, big_endian };
    let mut queue = vec![t.u32_at(4)? as usize];
    let mut visited = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    let mut consider = |off: u32, len: u32| {
        let (off, len) = (off as usize, len as usize);
        if len > best.map_or(0, |b| b.1) && is_decodable_jpeg(data, off, len) {
            best = Some((off, len));
        }
    };
    while let Some(ifd) = queue.pop() {
        if ifd == 0 || visited.contains(&ifd) || visited.len() >= MAX_IFDS {
            continue;
        }
        visited.push(ifd);
        let Some(n) = t.u16_at(ifd) else { continue };
        let (mut jpeg_off, mut jpeg_len, mut strips, mut strip_lens, mut compression) = (None, None, None, None, None);
        for k in 0..usize::from(n) {
            let e = ifd + 2 + k * 12;
            let Some(tag) = t.u16_at(e) else { break };
            match tag {
                0x0201 => jpeg_off = t.values(e).and_then(|v| v.first().copied()),
                0x0202 => jpeg_len = t.values(e).and_then(|v| v.first().copied()),
                0x0111 => strips = t.values(e),
                0x0117 => strip_lens = t.values(e),
                0x0103 => compression = t.values(e).and_then(|v| v.first().copied()),
                // Panasonic JpgFromRaw (RW2): UNDEFINED bytes, count = length.
                0x002E if t.u16_at(e + 2) == Some(7) => {
                    if let (Some(len), Some(off)) = (t.u32_at(e + 4), t.u32_at(e + 8)) {
                        consider(off, len);
                    }
                }
                0x014A => queue.extend(t.values(e).unwrap_or_default().into_iter().map(|v| v as usize)),
                _ => {}
            }
        }
        if let (Some(o), Some(l)) = (jpeg_off, jpeg_len) {
            consider(o, l);
        }
        if let (Some(s), Some(l), Some(6 | 7)) = (&strips, &strip_lens, compression) {
            if s.len() == 1 && l.len() == 1 {
                consider(s[0], l[0]);
            }
        }
        if let Some(next) = t.u32_at(ifd + 2 + usize::from(n) * 12) {
            queue.push(next as usize);
        }
    }
    best
}

/// The byte range (offset, length) of the embedded JPEG preview to hash,
/// or `None` when the file has none we can use.
pub fn preview_range(data: &[u8], kind: Kind) -> Option<(usize, usize)> {
    match kind {
        Kind::Raf => {
            let off = u32::from_be_bytes(data.get(84..88)?.try_into().ok()?) as usize;
            let len = u32::from_be_bytes(data.get(88..92)?.try_into().ok()?) as usize;
            is_decodable_jpeg(data, off, len).then_some((off, len))
        }
        Kind::Cr2 | Kind::Nef | Kind::Arw | Kind::Dng | Kind::Rw2 => tiff_preview(data),
        Kind::Cr3 => cr3_preview(data),
        Kind::Crw | Kind::Mrw | Kind::X3f => super::oldraw::preview_range(data, kind, is_decodable_jpeg),
        _ => None,
    }
}

/// A CR3's `PRVW` box (in Canon's preview `uuid` box): 8 bytes of header,
/// then version, width, height and a 32-bit JPEG length before the JPEG.
fn cr3_preview(data: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    let mut best: Option<(usize, usize)> = None;
    while let Some(i) = data.get(from..).and_then(|d| d.windows(4).position(|w| w == b"PRVW")) {
        let at = from + i;
        from = at + 4;
        let Some(start) = at.checked_sub(4) else { continue };
        let Some(len) = data.get(start + 20..start + 24).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
            continue;
        };
        let (off, len) = (start + 24, len as usize);
        if len > best.map_or(0, |b| b.1) && is_decodable_jpeg(data, off, len) {
            best = Some((off, len));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cr3_prvw_box_gives_its_jpeg_and_a_dummy_one_gives_none() {
        let jpeg = b"\xff\xd8\xff\xc0\0\x11\x08\0\x10\0\x10\x01\x01\x11\0";
        let mut d = b"\0\0\0\x10uuidjunk".to_vec();
        let start = d.len();
        d.extend_from_slice(&(24 + jpeg.len() as u32).to_be_bytes());
        d.extend_from_slice(b"PRVW\0\0\0\0\0\x01\x06\x54\x04\x38\0\x01");
        d.extend_from_slice(&(jpeg.len() as u32).to_be_bytes());
        d.extend_from_slice(jpeg);
        assert_eq!(preview_range(&d, Kind::Cr3), Some((start + 24, jpeg.len())));
        d[start + 24] = b'<';
        assert_eq!(preview_range(&d, Kind::Cr3), None);
        assert_eq!(preview_range(&d[..start + 10], Kind::Cr3), None);
    }

    #[test]
    fn garbage_and_truncated_headers_give_no_preview_and_no_panic() {
        assert_eq!(preview_range(b"", Kind::Raf), None);
        assert_eq!(preview_range(b"II*\0\xff\xff\xff\xff", Kind::Nef), None);
        let mut looped = b"II*\0\x08\0\0\0\x00\0\x08\0\0\0".to_vec();
        looped.extend_from_slice(&[0; 8]);
        assert_eq!(preview_range(&looped, Kind::Dng), None);
        let mut s = 1u64;
        for _ in 0..2000 {
            let data: Vec<u8> = (0..64)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s as u8
                })
                .collect();
            let mut d = b"MM\0*\0\0\0\x08".to_vec();
            d.extend_from_slice(&data);
            let _ = preview_range(&d, Kind::Cr2);
        }
    }
}
