//! JPEG structure check: a file that ends before its EOI marker is truncated.

/// Why a JPEG is damaged, or `None` when its marker structure is whole.
///
/// Walks the marker segments; through each scan's entropy-coded data it
/// skips stuffed bytes (`FF 00`) and restart markers (`FF D0`–`D7`), so
/// multi-scan (progressive) files are followed to their end. Data after
/// EOI is allowed (motion photos append a video there).
pub fn damage(data: &[u8]) -> Option<String> {
    image_end(data).err()
}

/// Where the image ends: the offset just past its end-of-image marker,
/// found by walking the marker segments and scans as [`damage`] does (an
/// `FF D9` inside an embedded thumbnail or an appended video is not it).
/// `Err` says why the structure is not whole.
pub fn image_end(data: &[u8]) -> Result<usize, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("does not start with a JPEG SOI marker".into());
    }
    let mut pos = 2usize;
    let mut scans = 0usize;
    loop {
        // Find the next marker, skipping fill bytes.
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (data.get(pos), data.get(pos + 1)) else {
            if pos + 1 >= data.len() {
                return Err("is truncated: it ends before its end-of-image marker".into());
            }
            // Garbage where a marker should be: resynchronise on the next
            // marker, as decoders do. Only a missing end is fatal.
            match next_marker(data, pos) {
                Ok(next) => pos = next,
                Err(why) => return Err(why),
            }
            continue;
        };
        pos += 2;
        match marker {
            0xD9 => {
                if scans == 0 {
                    return Err("has no image data (no scan before end-of-image)".to_string());
                }
                return Ok(pos);
            }
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let Some(len) = data.get(pos..pos + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return Err("is truncated: it ends inside a marker segment".into());
        };
        if len < 2 {
            return Err(format!("is corrupt: bad segment length at byte {pos}"));
        }
        pos += len;
        if pos > data.len() {
            return Err("is truncated: it ends inside a marker segment".into());
        }
        if marker == 0xDA {
            scans += 1;
            // Entropy-coded data runs to the next marker that is not FF00 or RSTn.
            match next_marker(data, pos) {
                Ok(next) => pos = next,
                Err(why) => return Err(why),
            }
        }
    }
}

/// The position of the next real marker at or after `pos` (skipping stuffed
/// `FF 00` and restart markers), or the truncation message.
fn next_marker(data: &[u8], mut pos: usize) -> Result<usize, String> {
    let truncated = || "is truncated: its image data ends before the end-of-image marker".to_string();
    loop {
        let off = data.get(pos..).and_then(|d| memchr::memchr(0xFF, d)).ok_or_else(truncated)?;
        pos += off;
        match data.get(pos + 1) {
            None => return Err(truncated()),
            Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => pos += 1,
            Some(_) => return Ok(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        // SOI, APP0 (len 4), SOS (len 3 + 1 byte), data with a stuffed FF and an RST, EOI.
        vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 3, 9, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF,
            0xD9,
        ]
    }

    #[test]
    fn a_whole_jpeg_passes_even_with_data_after_eoi() {
        assert_eq!(damage(&tiny()), None);
        let mut motion = tiny();
        motion.extend_from_slice(b"\0\0\0\x18ftypmp42 appended video");
        assert_eq!(damage(&motion), None);
        assert_eq!(image_end(&motion), Ok(tiny().len()));
    }

    #[test]
    fn every_cut_of_a_jpeg_is_reported() {
        let full = tiny();
        for cut in 0..full.len() - 1 {
            assert!(damage(&full[..cut]).is_some(), "cut at {cut} not detected");
        }
    }
}
