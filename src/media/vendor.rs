//! Capture dates that only a camera maker's private block holds: Olympus'
//! `[picture info]` APP12 segment, Canon's CIFF heap in APP0 (early
//! PowerShots), FLIR's FFF record directory in APP1 (thermal cameras, the
//! only one with a UTC offset), Casio's `QVCI` APP1 segment (QV-7000SX) and
//! Reconyx HyperFire maker notes. The others are the camera's wall-clock
//! time, without an offset.

use chrono::{FixedOffset, NaiveDateTime};

/// A date and its UTC offset, when the block records one.
pub type Dated = (NaiveDateTime, Option<FixedOffset>);

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Seconds counted as if the camera clock were UTC: its wall-clock time.
fn wall_clock(secs: i64) -> Option<NaiveDateTime> {
    let t = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
    super::date::parse_exif_datetime(&t.format("%Y:%m:%d %H:%M:%S").to_string())
}

/// The date in a JPEG's vendor segments (`data`: the whole file, or as much
/// of it as was read; FLIR's record directory can span hundreds of kB).
pub fn jpeg_vendor_date(data: &[u8]) -> Option<Dated> {
    let head = data.get(..data.len().min(1 << 20)).unwrap_or(data);
    let wall = |t: NaiveDateTime| (t, None);
    olympus_picture_info(head)
        .map(wall)
        .or_else(|| canon_ciff(data).map(wall))
        .or_else(|| flir_date(data))
        .or_else(|| casio_qvci(data).map(wall))
}

/// A JPEG's marker segments up to the image data: (marker, payload after the
/// length field). Stops at the start of scan or at the first malformed segment.
fn segments(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut i = if data.starts_with(&[0xFF, 0xD8]) { 2 } else { data.len() };
    std::iter::from_fn(move || {
        let (&0xFF, &marker) = (data.get(i)?, data.get(i + 1)?) else {
            return None;
        };
        if marker == 0xDA {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
        let seg = data.get(i + 4..(i + 2).checked_add(len)?)?;
        i += 2 + len;
        Some((marker, seg))
    })
}

/// Olympus APP12 `[picture info]` … `TimeDate=909698819`.
fn olympus_picture_info(data: &[u8]) -> Option<NaiveDateTime> {
    let at = find(data, b"[picture info]")?;
    let block = data.get(at..(at + 512).min(data.len()))?;
    let t = find(block, b"TimeDate=")? + "TimeDate=".len();
    let digits: String = block[t..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
    wall_clock(digits.parse().ok()?)
}

/// Canon CIFF in APP0 (`II`, header length, `HEAPJPGM`): tag 0x180E TimeStamp, seconds.
fn canon_ciff(data: &[u8]) -> Option<NaiveDateTime> {
    let (_, seg) = segments(data)
        .find(|(marker, seg)| *marker == 0xE0 && seg.get(..2) == Some(b"II") && seg.get(6..14) == Some(b"HEAPJPGM"))?;
    let hlen = u32::from_le_bytes(seg.get(2..6)?.try_into().ok()?) as usize;
    ciff_timestamp(seg.get(hlen..)?, 0).and_then(|s| wall_clock(i64::from(s)))
}

/// Tag 0x180E in a CIFF heap (its directory's offset is the heap's last 4 bytes), sub-heaps searched too.
fn ciff_timestamp(heap: &[u8], depth: u32) -> Option<u32> {
    if depth > 4 || heap.len() < 6 {
        return None;
    }
    let u32_at = |b: &[u8], at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let dir = u32_at(heap, heap.len() - 4)? as usize;
    let count = usize::from(u16::from_le_bytes(heap.get(dir..dir + 2)?.try_into().ok()?));
    for e in 0..count.min(256) {
        let at = dir + 2 + e * 10;
        let tag = u16::from_le_bytes(heap.get(at..at + 2)?.try_into().ok()?);
        if tag & 0xC000 != 0 {
            continue; // value in the record itself
        }
        let (size, off) = (u32_at(heap, at + 2)? as usize, u32_at(heap, at + 6)? as usize);
        let value = heap.get(off..off.checked_add(size)?)?;
        if tag & 0x3FFF == 0x180E {
            return u32_at(value, 0).filter(|&s| s > 0);
        }
        if matches!(tag & 0x3800, 0x2800 | 0x3000) {
            if let Some(t) = ciff_timestamp(value, depth + 1) {
                return Some(t);
            }
        }
    }
    None
}

/// FLIR: the FFF data split over APP1 segments `FLIR\0`, each with a chunk
/// number (byte 6) and the chunk count less one (byte 7), joined in chunk
/// order once as many chunks as the count have been seen, as exiftool does.
/// Its CameraInfo record holds DateTimeOriginal, with the camera's zone.
fn flir_date(data: &[u8]) -> Option<Dated> {
    fff_date(&flir_fff(data)?)
}

/// The FFF data of a JPEG's FLIR chunks; `None` when chunks are missing or
/// disagree on their count.
fn flir_fff(data: &[u8]) -> Option<Vec<u8>> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let (mut total, mut seen) = (None, 0usize);
    for (marker, seg) in segments(data) {
        if marker != 0xE1 || !seg.starts_with(b"FLIR\0") {
            continue;
        }
        let (Some(&num), Some(&last), Some(body)) = (seg.get(6), seg.get(7), seg.get(8..)) else {
            continue; // exiftool skips a FLIR segment shorter than its header
        };
        let (num, count) = (usize::from(num), usize::from(last) + 1);
        if *total.get_or_insert(count) != count {
            return None;
        }
        if chunks.len() <= num {
            chunks.resize_with(num + 1, Vec::new);
        }
        // A repeated chunk number is appended to the first, as exiftool does.
        chunks.get_mut(num)?.extend_from_slice(body);
        seen += 1;
        if seen >= count {
            return Some(chunks.concat());
        }
    }
    None
}

/// Reads FFF integers in the byte order the header's version gave.
#[derive(Clone, Copy)]
struct Order {
    big: bool,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let v: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big { u16::from_be_bytes(v) } else { u16::from_le_bytes(v) })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let v: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big { u32::from_be_bytes(v) } else { u32::from_le_bytes(v) })
    }

    fn flipped(self) -> Order {
        Order { big: !self.big }
    }
}

/// The FFF header (`FFF\0`, 64 bytes: version 100–199 at 0x14 sets the byte
/// order, directory offset at 0x18, entry count at 0x1C) and its directory of
/// 32-byte entries (record type, …, offset at 0x0C, length at 0x10). Like
/// exiftool, a record outside the data ends the walk, and of several
/// CameraInfo records (type 0x20) the last one's date is kept.
fn fff_date(fff: &[u8]) -> Option<Dated> {
    if !(fff.starts_with(b"FFF\0") || fff.starts_with(b"AFF\0")) || fff.len() < 0x40 {
        return None;
    }
    let version_ok = |o: Order| o.u32(fff, 0x14).is_some_and(|v| (100..200).contains(&v));
    let order = [Order { big: true }, Order { big: false }].into_iter().find(|&o| version_ok(o))?;
    let dir = usize::try_from(order.u32(fff, 0x18)?).ok()?;
    let count = usize::try_from(order.u32(fff, 0x1C)?).ok()?;
    let entries = fff.get(dir..dir.checked_add(count.checked_mul(0x20)?)?)?;
    let mut found = None;
    for entry in entries.chunks_exact(0x20) {
        let kind = order.u16(entry, 0)?;
        if kind == 0 {
            continue; // an empty entry
        }
        let at = usize::try_from(order.u32(entry, 0x0C)?).ok()?;
        let len = usize::try_from(order.u32(entry, 0x10)?).ok()?;
        let Some(record) = fff.get(at..at.checked_add(len)?) else {
            break;
        };
        if kind == 0x20 {
            found = camera_info_date(record, order).or(found);
        }
    }
    found
}

/// CameraInfo: int16u 2 at 0 in the record's own byte order (flipped when
/// it reads 0x100 or more), DateTimeOriginal at 0x384: int32u Unix time,
/// int32u milliseconds (low 16 bits), int16s minutes west of UTC. The
/// milliseconds are dropped, as for EXIF dates without SubSecTime.
fn camera_info_date(record: &[u8], order: Order) -> Option<Dated> {
    let order = if order.u16(record, 0)? >= 0x100 { order.flipped() } else { order };
    let secs = order.u32(record, 0x384)?;
    let west = order.u16(record, 0x38C)? as i16;
    if secs == 0 {
        return None; // a clock never set
    }
    let offset = FixedOffset::west_opt(i32::from(west) * 60)?;
    let local = chrono::DateTime::from_timestamp(i64::from(secs), 0)?.with_timezone(&offset).naive_local();
    Some((local, Some(offset)))
}

/// Casio QV-7000SX: APP1 `QVCI\0`, DateTimeOriginal as a string[20] at byte
/// 0x4D of the segment, `YYYY.MM.DD HH:MM:SS` with dots (exiftool turns them
/// into colons).
fn casio_qvci(data: &[u8]) -> Option<NaiveDateTime> {
    let (_, seg) = segments(data).find(|(marker, seg)| *marker == 0xE1 && seg.starts_with(b"QVCI\0"))?;
    let field = seg.get(0x4D..)?;
    let field = &field[..field.len().min(20)];
    let text = field.split(|&b| b == 0).next()?;
    super::date::parse_exif_datetime(std::str::from_utf8(text).ok()?)
}

/// Reconyx HyperFire maker note (version 0xF101): int16u sec, min, hour, month, day, year at byte 22.
pub fn reconyx_date(note: &[u8]) -> Option<NaiveDateTime> {
    if note.get(..2) != Some(&[0x01, 0xF1]) {
        return None;
    }
    let v: Vec<u32> = (0..6)
        .map(|k| note.get(22 + 2 * k..24 + 2 * k).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]]))))
        .collect::<Option<_>>()?;
    let year = i32::try_from(v[5]).ok()?;
    if !(1990..=2200).contains(&year) {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year, v[3], v[4])?.and_hms_opt(v[2], v[1], v[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG of these (marker, payload) segments, then a start of scan.
    fn jpeg(segs: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        for (marker, payload) in segs {
            out.extend([0xFF, *marker]);
            out.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
            out.extend(payload);
        }
        out.extend([0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]);
        out
    }

    /// FFF data (big-endian header, as FLIR's APP1 has it) with an embedded
    /// image record and a little-endian CameraInfo record dated `secs`, `west` minutes west.
    fn fff(secs: u32, west: i16) -> Vec<u8> {
        let mut camera = vec![0u8; 0x400];
        camera[..2].copy_from_slice(&2u16.to_le_bytes());
        camera[0x384..0x388].copy_from_slice(&secs.to_le_bytes());
        camera[0x388..0x38C].copy_from_slice(&107u32.to_le_bytes());
        camera[0x38C..0x38E].copy_from_slice(&west.to_le_bytes());
        let image = vec![0xAB; 300];
        let mut out = vec![0u8; 0x40];
        out[..4].copy_from_slice(b"FFF\0");
        out[0x14..0x18].copy_from_slice(&100u32.to_be_bytes());
        out[0x18..0x1C].copy_from_slice(&0x40u32.to_be_bytes());
        out[0x1C..0x20].copy_from_slice(&3u32.to_be_bytes());
        let records = 0x40 + 3 * 0x20;
        for (kind, at, len) in [(0x0E, records, image.len()), (0x20, records + image.len(), camera.len()), (0, 0, 0)] {
            let mut e = vec![0u8; 0x20];
            e[..2].copy_from_slice(&u16::try_from(kind).unwrap().to_be_bytes());
            e[0x0C..0x10].copy_from_slice(&u32::try_from(at).unwrap().to_be_bytes());
            e[0x10..0x14].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
            out.extend(e);
        }
        out.extend(image);
        out.extend(camera);
        out
    }

    /// `fff` split into `n` APP1 `FLIR\0` chunks, in the order `order` gives.
    fn flir_chunks(fff: &[u8], n: usize, order: &[usize]) -> Vec<(u8, Vec<u8>)> {
        let size = fff.len().div_ceil(n);
        let parts: Vec<&[u8]> = fff.chunks(size).collect();
        order
            .iter()
            .map(|&k| {
                let mut seg = b"FLIR\0\x01".to_vec();
                seg.extend([u8::try_from(k).unwrap(), u8::try_from(n - 1).unwrap()]);
                seg.extend(parts[k]);
                (0xE1, seg)
            })
            .collect()
    }

    fn qvci(date: &[u8]) -> Vec<u8> {
        let mut seg = b"QVCI\0".to_vec();
        seg.resize(0x4D, 0);
        seg.extend(date);
        seg.resize(0x4D + 20, 0);
        seg.resize(0x90, 0x20);
        seg
    }

    /// Every prefix and a spread of single-byte corruptions of `file`: no panic.
    fn survives_damage(file: &[u8]) {
        for end in 0..file.len() {
            let _ = jpeg_vendor_date(&file[..end]);
        }
        for at in (0..file.len()).step_by(7) {
            for v in [0x00, 0xFF, 0x7F] {
                let mut bad = file.to_vec();
                bad[at] = v;
                let _ = jpeg_vendor_date(&bad);
            }
        }
    }

    #[test]
    fn olympus_time_date_is_the_wall_clock() {
        let d = b"\xff\xd8\xff\xecOLYMPUS OPTICAL CO.,LTD.   [picture info]\r\nTimeDate=909698819\r\nShutter=1";
        let (t, offset) = jpeg_vendor_date(d).unwrap();
        assert_eq!((t.to_string(), offset), ("1998-10-29 22:06:59".into(), None));
    }

    #[test]
    fn reconyx_needs_its_version() {
        let mut n = vec![0x01, 0xF1];
        n.resize(22, 0);
        for v in [0u16, 0, 10, 3, 16, 2020] {
            n.extend(v.to_le_bytes());
        }
        assert_eq!(reconyx_date(&n).unwrap().to_string(), "2020-03-16 10:00:00");
        n[0] = 0;
        assert_eq!(reconyx_date(&n), None);
    }

    #[test]
    fn flir_camera_info_gives_local_time_and_offset_across_chunks_in_any_order() {
        // 1621193256 = 2021-05-16 19:27:36 UTC; 420 minutes west: 12:27:36-07:00
        // (the corpus' FLIR iPhone device.jpg).
        let data = fff(1_621_193_256, 420);
        for (n, order) in [(1, vec![0]), (3, vec![0, 1, 2]), (3, vec![2, 0, 1]), (5, vec![4, 3, 2, 1, 0])] {
            let file = jpeg(&flir_chunks(&data, n, &order));
            let (t, offset) = jpeg_vendor_date(&file).unwrap();
            assert_eq!(t.to_string(), "2021-05-16 12:27:36", "{n} chunks {order:?}");
            assert_eq!(offset, FixedOffset::west_opt(7 * 3600));
        }
        // East of UTC: -330 minutes west is +05:30.
        let file = jpeg(&flir_chunks(&fff(1_621_193_256, -330), 2, &[0, 1]));
        let (t, offset) = jpeg_vendor_date(&file).unwrap();
        assert_eq!((t.to_string(), offset), ("2021-05-17 00:57:36".into(), FixedOffset::east_opt(19800)));
    }

    #[test]
    fn flir_byte_orders_follow_the_header_version_and_the_record_marker() {
        // A little-endian header (FFF files) and a big-endian CameraInfo.
        let mut data = fff(1_621_193_256, 420);
        for at in [0x14, 0x18, 0x1C] {
            data[at..at + 4].reverse();
        }
        for e in 0..3 {
            let at = 0x40 + e * 0x20;
            data[at..at + 2].reverse();
            data[at + 0x0C..at + 0x10].reverse();
            data[at + 0x10..at + 0x14].reverse();
        }
        let camera = 0x40 + 3 * 0x20 + 300;
        for (at, n) in [(0, 2), (0x384, 4), (0x388, 4), (0x38C, 2)] {
            data[camera + at..camera + at + n].reverse();
        }
        let (t, offset) = fff_date(&data).unwrap();
        assert_eq!((t.to_string(), offset), ("2021-05-16 12:27:36".into(), FixedOffset::west_opt(7 * 3600)));
        // A version outside 100–199 in both orders: not FFF data we know.
        data[0x14..0x18].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(fff_date(&data), None);
    }

    #[test]
    fn flir_without_every_chunk_or_with_disagreeing_counts_gives_nothing() {
        let data = fff(1_621_193_256, 420);
        // Chunk 2 of 3 missing.
        assert_eq!(jpeg_vendor_date(&jpeg(&flir_chunks(&data, 3, &[0, 2]))), None);
        // The second chunk says there are 4.
        let mut segs = flir_chunks(&data, 3, &[0, 1, 2]);
        segs[1].1[7] = 3;
        assert_eq!(jpeg_vendor_date(&jpeg(&segs)), None);
        // A FLIR segment too short for its chunk header is skipped.
        let mut segs = flir_chunks(&data, 1, &[0]);
        segs.insert(0, (0xE1, b"FLIR\0\x01".to_vec()));
        assert!(jpeg_vendor_date(&jpeg(&segs)).is_some());
        // A clock never set (0) and a zone a day or more away are no date.
        assert_eq!(jpeg_vendor_date(&jpeg(&flir_chunks(&fff(0, 420), 1, &[0]))), None);
        assert_eq!(jpeg_vendor_date(&jpeg(&flir_chunks(&fff(1_621_193_256, 1440), 1, &[0]))), None);
    }

    #[test]
    fn flir_bogus_offsets_and_counts_give_nothing_and_never_panic() {
        let good = fff(1_621_193_256, 420);
        let set = |data: &mut Vec<u8>, at: usize, v: u32| data[at..at + 4].copy_from_slice(&v.to_be_bytes());
        // Directory offset, entry count, a record's offset and length past the end, or overflowing.
        for (at, v) in [
            (0x18, 0xFFFF_FFF0),
            (0x1C, 0xFFFF_FFFF),
            (0x1C, 0x1000_0000),
            (0x40 + 0x2C, u32::MAX),
            (0x40 + 0x30, 0x10),
        ] {
            let mut data = good.clone();
            set(&mut data, at, v);
            assert_eq!(fff_date(&data), None, "byte {at:#x} = {v:#x}");
        }
        // A record outside the data ends the walk, as in exiftool: the
        // CameraInfo after a bad embedded image is not reached.
        let mut data = good.clone();
        set(&mut data, 0x40 + 0x10, 0x10_0000);
        assert_eq!(fff_date(&data), None);
        // A CameraInfo record too short for its date.
        let mut data = good.clone();
        set(&mut data, 0x40 + 0x20 + 0x10, 0x380);
        assert_eq!(fff_date(&data), None);
        assert_eq!(fff_date(&good[..0x3F]), None);
        survives_damage(&jpeg(&flir_chunks(&good, 3, &[0, 1, 2])));
    }

    #[test]
    fn casio_qvci_date_time_original() {
        for text in [&b"2001.06.25 14:30:07"[..], b"2001.06.25.14:30:07", b"2001.06.25.14.30.07\0"] {
            let file = jpeg(&[(0xE1, qvci(text))]);
            let (t, offset) = jpeg_vendor_date(&file).unwrap();
            assert_eq!((t.to_string(), offset), ("2001-06-25 14:30:07".into(), None), "{text:?}");
        }
        // After other segments too.
        let file = jpeg(&[(0xE0, b"JFIF\0\x01\x01".to_vec()), (0xE1, qvci(b"1999.12.31 23:59:58"))]);
        assert_eq!(jpeg_vendor_date(&file).unwrap().0.to_string(), "1999-12-31 23:59:58");
    }

    #[test]
    fn casio_qvci_malformed_gives_nothing_and_never_panics() {
        // Blank, impossible, or cut before the date.
        for seg in [qvci(b""), qvci(b"2001.13.45 25:61:00"), qvci(b"0000.00.00 00:00:00"), qvci(b"x")[..0x4D].to_vec()]
        {
            assert_eq!(jpeg_vendor_date(&jpeg(&[(0xE1, seg)])), None);
        }
        // Not in APP1.
        assert_eq!(jpeg_vendor_date(&jpeg(&[(0xE2, qvci(b"2001.06.25 14:30:07"))])), None);
        survives_damage(&jpeg(&[(0xE1, qvci(b"2001.06.25 14:30:07"))]));
    }

    #[test]
    fn segment_lengths_that_lie_end_the_walk() {
        let file = jpeg(&[(0xE1, qvci(b"2001.06.25 14:30:07"))]);
        // A length of 0 or 1 (shorter than the length field itself), or past the end.
        for len in [0u16, 1, 0xFFFF] {
            let mut bad = file.clone();
            bad[4..6].copy_from_slice(&len.to_be_bytes());
            assert_eq!(jpeg_vendor_date(&bad), None, "length {len}");
        }
        // Not a JPEG at all.
        assert_eq!(segments(b"QVCI\0").count(), 0);
        assert_eq!(segments(&[0xFF, 0xD8, 0xFF]).count(), 0);
    }
}
