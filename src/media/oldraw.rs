//! Older RAW formats: Canon CRW (CIFF), Minolta MRW and Sigma X3F. Each
//! gives the embedded JPEG preview we hash and the block its date is in.
//!
//! - CRW: a CIFF heap (`II`, header length, `HEAPCCDR`); every heap ends with
//!   the offset of its table of 10-byte records (tag, size, offset). Tag
//!   0x180e (TimeStamp) holds seconds since 1970 in the camera's local time,
//!   0x080a the make and model, 0x2007 the JpgFromRaw preview.
//! - MRW: `\0MRM` and a header of blocks (`\0PRD`, `\0TTW`, ...), each a
//!   4-byte name and a big-endian length; `TTW` is a TIFF with the EXIF and
//!   the preview (thumbnail IFD); the raw data follows the header.
//! - X3F: `FOVb`; the last 4 bytes give the section directory (`SECd`),
//!   whose `IMAG`/`IMA2` sections of format 18 are JPEG previews (which
//!   carry the EXIF on cameras that write one).

use chrono::{DateTime, NaiveDateTime};

use super::Kind;

/// Most records and heaps visited in a CIFF file (a loop must not hang us).
const MAX_RECORDS: usize = 4096;

fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// One CIFF record: its tag (without the storage bits) and its data.
struct Record<'a> {
    tag: u16,
    data: &'a [u8],
}

/// Every record of a CIFF heap `data[start..end]` and its sub-heaps.
fn ciff_records<'a>(data: &'a [u8], start: usize, end: usize, out: &mut Vec<Record<'a>>, depth: usize) {
    if depth > 8 || end > data.len() || end < start + 4 || out.len() >= MAX_RECORDS {
        return;
    }
    let Some(table) = le32(data, end - 4).and_then(|t| start.checked_add(t as usize)) else { return };
    let Some(count) = le16(data, table) else { return };
    for i in 0..usize::from(count) {
        if out.len() >= MAX_RECORDS {
            return;
        }
        let e = table + 2 + i * 10;
        let (Some(raw_tag), Some(size), Some(off)) = (le16(data, e), le32(data, e + 2), le32(data, e + 6)) else {
            return;
        };
        let tag = raw_tag & 0x3fff;
        if raw_tag & 0xc000 == 0x4000 {
            // The value is in the record itself (8 bytes).
            if let Some(d) = data.get(e + 2..e + 10) {
                out.push(Record { tag, data: d });
            }
            continue;
        }
        let (Some(s), Some(n)) = (start.checked_add(off as usize), usize::try_from(size).ok()) else { continue };
        let Some(d) = s.checked_add(n).filter(|&x| x <= end).map(|x| &data[s..x]) else { continue };
        if matches!(raw_tag & 0x3800, 0x2800 | 0x3000) {
            ciff_records(data, s, s + n, out, depth + 1);
        } else {
            out.push(Record { tag, data: d });
        }
    }
}

fn crw_records(data: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    if let Some(hlen) = le32(data, 2) {
        ciff_records(data, hlen as usize, data.len(), &mut out, 0);
    }
    out
}

/// A CRW's capture time (TimeStamp, local time, no offset recorded) and its "Make\0Model".
pub fn crw_date_and_camera(data: &[u8]) -> (Option<NaiveDateTime>, Option<String>, Option<String>) {
    let records = crw_records(data);
    let taken = records
        .iter()
        .find(|r| r.tag == 0x180e)
        .and_then(|r| le32(r.data, 0))
        .filter(|&s| s != 0)
        .and_then(|s| DateTime::from_timestamp(i64::from(s), 0))
        .map(|t| t.naive_utc());
    let (make, model) = match records.iter().find(|r| r.tag == 0x080a) {
        Some(r) => {
            let mut parts = r.data.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).trim().to_string());
            (parts.next().filter(|s| !s.is_empty()), parts.next().filter(|s| !s.is_empty()))
        }
        None => (None, None),
    };
    (taken, make, model)
}

/// The data of an MRW's `TTW` block (a TIFF).
pub fn mrw_tiff(data: &[u8]) -> Option<&[u8]> {
    let header_end = 8usize.checked_add(be32(data, 4)? as usize)?.min(data.len());
    let mut at = 8;
    while at + 8 <= header_end {
        let len = be32(data, at + 4)? as usize;
        let body = at + 8;
        let end = body.checked_add(len)?;
        if data.get(at..at + 4)? == b"\0TTW" {
            return data.get(body..end);
        }
        at = end;
    }
    None
}

/// The X3F JPEG preview sections, as byte ranges of `data`.
fn x3f_jpegs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let Some(dir) = data.len().checked_sub(4).and_then(|at| le32(data, at)).map(|d| d as usize) else {
        return out;
    };
    if data.get(dir..dir + 4) != Some(b"SECd") {
        return out;
    }
    let count = le32(data, dir + 8).unwrap_or(0).min(256) as usize;
    for i in 0..count {
        let e = dir + 12 + i * 12;
        let (Some(off), Some(len), Some(typ)) = (le32(data, e), le32(data, e + 4), data.get(e + 8..e + 12)) else {
            break;
        };
        let (off, len) = (off as usize, len as usize);
        if !(typ == b"IMAG" || typ == b"IMA2") || data.get(off..off + 4) != Some(b"SECi") {
            continue;
        }
        // SECi, version, type, format (18 = JPEG), columns, rows, row size; then the data.
        if le32(data, off + 12) == Some(18) && len > 28 {
            out.push((off + 28, len - 28));
        }
    }
    out
}

/// The EXIF-carrying block of an old RAW: (TIFF or JPEG bytes, is a JPEG).
pub fn exif_block(data: &[u8], kind: Kind) -> Option<(&[u8], bool)> {
    match kind {
        Kind::Mrw => mrw_tiff(data).map(|t| (t, false)),
        Kind::X3f => {
            let (off, len) = x3f_jpegs(data).into_iter().max_by_key(|r| r.1)?;
            data.get(off..off + len).map(|j| (j, true))
        }
        _ => None,
    }
}

/// The byte range of the embedded JPEG preview to hash.
pub fn preview_range(
    data: &[u8],
    kind: Kind,
    decodable: impl Fn(&[u8], usize, usize) -> bool,
) -> Option<(usize, usize)> {
    match kind {
        Kind::Crw => {
            let base = data.as_ptr() as usize;
            crw_records(data)
                .iter()
                .filter(|r| r.tag == 0x2007)
                .map(|r| (r.data.as_ptr() as usize - base, r.data.len()))
                .filter(|&(o, l)| decodable(data, o, l))
                .max_by_key(|r| r.1)
        }
        Kind::Mrw => {
            let tiff = mrw_tiff(data)?;
            let base = tiff.as_ptr() as usize - data.as_ptr() as usize;
            super::raw::tiff_preview(tiff).map(|(o, l)| (base + o, l))
        }
        Kind::X3f => x3f_jpegs(data).into_iter().filter(|&(o, l)| decodable(data, o, l)).max_by_key(|r| r.1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gives_nothing_and_no_panic() {
        let ok = |_: &[u8], _: usize, _: usize| true;
        let mut s = 7u64;
        for n in 0..500usize {
            let mut d: Vec<u8> = (0..(n % 97))
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s as u8
                })
                .collect();
            for (magic, kind) in [
                (&b"II\x1a\0\0\0HEAPCCDR"[..], Kind::Crw),
                (&b"\0MRM\0\0\0\x20"[..], Kind::Mrw),
                (&b"FOVb"[..], Kind::X3f),
            ] {
                let mut f = magic.to_vec();
                f.append(&mut d.clone());
                let _ = preview_range(&f, kind, ok);
                let _ = exif_block(&f, kind);
                let _ = crw_date_and_camera(&f);
            }
            d.clear();
        }
    }
}
