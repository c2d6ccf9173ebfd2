//! EXIF from every container we handle: JPEG, TIFF and TIFF-like RAW, PNG,
//! WebP, HEIF/AVIF (via kamadak-exif), Fujifilm RAF (its embedded JPEG),
//! Panasonic RW2 and Olympus ORF (TIFF with a private magic), Canon CR3
//! (TIFF blocks in ISO-BMFF boxes), JPEG XL and JPEG 2000 (EXIF boxes),
//! Canon CRW, Minolta MRW and Sigma X3F ([`super::oldraw`]).

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};

use chrono::{FixedOffset, NaiveDateTime};

use super::bmff;
use super::date::{parse_exif_datetime, parse_offset};
use super::Kind;

/// The EXIF fields we use.
#[derive(Debug, Default, Clone)]
pub struct ExifFields {
    /// DateTimeOriginal (+ OffsetTimeOriginal).
    pub original: Option<(NaiveDateTime, Option<FixedOffset>)>,
    /// CreateDate / DateTimeDigitized (+ OffsetTimeDigitized), else DateTime (+ OffsetTime).
    pub create: Option<(NaiveDateTime, Option<FixedOffset>)>,
    /// Make.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// DNGVersion present.
    pub dng: bool,
    /// Orientation (1–8), when recorded.
    pub orientation: Option<u16>,
    /// What tells this shot from the camera's others ([`super::capture`]).
    pub capture: super::capture::Capture,
    /// GPSLatitude/GPSLongitude with their refs, as signed degrees (latitude, longitude).
    pub gps: Option<(f64, f64)>,
    /// GPSDateStamp + GPSTimeStamp: a UTC time.
    pub gps_time: Option<NaiveDateTime>,
    /// A date only the maker note holds (Reconyx), wall-clock time; JPEG
    /// vendor segments are read in [`super::vendor::jpeg_vendor_date`].
    pub maker_date: Option<NaiveDateTime>,
}

impl ExifFields {
    /// "Make Model", without repeating the make when the model already says it.
    pub fn camera(&self) -> Option<String> {
        match (&self.make, &self.model) {
            (Some(make), Some(model)) => {
                let first = make.split_whitespace().next().unwrap_or(make).to_ascii_lowercase();
                if model.to_ascii_lowercase().starts_with(&first) {
                    Some(model.clone())
                } else {
                    Some(format!("{make} {model}"))
                }
            }
            (None, Some(model)) => Some(model.clone()),
            (Some(make), None) => Some(make.clone()),
            (None, None) => None,
        }
    }

    fn merge(&mut self, other: ExifFields) {
        self.original = self.original.or(other.original);
        self.create = self.create.or(other.create);
        self.make = self.make.take().or(other.make);
        self.model = self.model.take().or(other.model);
        self.dng |= other.dng;
        self.orientation = self.orientation.or(other.orientation);
        self.gps = self.gps.or(other.gps);
        self.gps_time = self.gps_time.or(other.gps_time);
        self.maker_date = self.maker_date.or(other.maker_date);
        let (c, o) = (&mut self.capture, other.capture);
        c.time = c.time.take().or(o.time);
        c.subsec = c.subsec.take().or(o.subsec);
        c.maker_note |= o.maker_note;
        c.burst = c.burst.take().or(o.burst);
        c.bias = c.bias.take().or(o.bias);
        c.rendered = c.rendered.or(o.rendered);
        c.unique_id = c.unique_id.take().or(o.unique_id);
    }
}

fn ascii(v: &exif::Value) -> Option<String> {
    match v {
        exif::Value::Ascii(parts) => {
            let s: String = parts
                .iter()
                .flat_map(|p| p.iter())
                .map(|&b| b as char)
                .collect::<String>()
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

/// Picks our fields out of a parsed EXIF block (primary image only; fields
/// are matched by tag number so blocks whose tags sit in IFD0 work too).
fn fields_of(exif: &exif::Exif) -> ExifFields {
    let mut strings = std::collections::HashMap::new();
    let mut gps = Gps::default();
    let mut out = ExifFields::default();
    for f in exif.fields().filter(|f| f.ifd_num == exif::In::PRIMARY) {
        let n = f.tag.number();
        if f.tag.context() == exif::Context::Gps {
            gps.field(n, &f.value);
            continue;
        }
        if n == 0xC612 {
            out.dng = true;
        }
        if n == 0x0112 {
            out.orientation = f.value.get_uint(0).and_then(|v| u16::try_from(v).ok()).filter(|v| (1..=8).contains(v));
        }
        match (n, &f.value) {
            // MakerNote
            (0x927C, exif::Value::Undefined(note, _)) => {
                out.capture.maker_note = true;
                out.capture.burst = super::capture::apple_burst_uuid(note);
                out.capture.live = super::capture::apple_content_id(note);
                out.maker_date = super::vendor::reconyx_date(note);
            }
            // CustomRendered
            (0xA401, v) => out.capture.rendered = v.get_uint(0).and_then(|v| u16::try_from(v).ok()),
            // ExposureBiasValue
            (0x9204, exif::Value::SRational(r)) => {
                out.capture.bias = r.first().filter(|r| r.denom != 0).map(|r| format!("{}/{}", r.num, r.denom))
            }
            _ => {}
        }
        if let Some(s) = ascii(&f.value) {
            strings.entry(n).or_insert(s);
        }
    }
    let date = |dt: u16, off: u16| -> Option<(NaiveDateTime, Option<FixedOffset>)> {
        let t = parse_exif_datetime(strings.get(&dt)?)?;
        Some((t, strings.get(&off).and_then(|o| parse_offset(o))))
    };
    out.original = date(0x9003, 0x9011);
    out.create = date(0x9004, 0x9012).or_else(|| date(0x0132, 0x9010));
    out.make = strings.get(&0x010F).cloned();
    out.model = strings.get(&0x0110).cloned();
    out.capture.camera = out.camera();
    out.capture.time = strings.get(&0x9003).filter(|_| out.original.is_some()).cloned();
    out.capture.subsec = strings.get(&0x9291).cloned();
    out.capture.unique_id = strings.get(&0xA420).cloned();
    out.gps = gps.position();
    out.gps_time = gps.time();
    out
}

/// The GPS IFD's fields we use, as read.
#[derive(Default)]
struct Gps {
    lat_ref: Option<String>,
    lat: Option<f64>,
    lon_ref: Option<String>,
    lon: Option<f64>,
    date: Option<String>,
    time: Option<(u32, u32, u32)>,
}

/// Three rationals (degrees/hours, minutes, seconds), as each one's value.
fn triple(v: &exif::Value) -> Option<[f64; 3]> {
    let exif::Value::Rational(r) = v else { return None };
    let part = |i: usize| r.get(i).filter(|r| r.denom != 0).map(|r| r.to_f64());
    Some([part(0)?, part(1).unwrap_or(0.0), part(2).unwrap_or(0.0)])
}

impl Gps {
    fn field(&mut self, n: u16, v: &exif::Value) {
        let deg = |v: &exif::Value| triple(v).map(|[d, m, s]| d + m / 60.0 + s / 3600.0);
        match n {
            0x0001 => self.lat_ref = ascii(v),
            0x0002 => self.lat = deg(v),
            0x0003 => self.lon_ref = ascii(v),
            0x0004 => self.lon = deg(v),
            0x0007 => {
                self.time = triple(v).and_then(|[h, m, s]| {
                    let ok = |x: f64, max: f64| (0.0..max).contains(&x);
                    (ok(h, 24.0) && ok(m, 60.0) && ok(s, 61.0)).then(|| (h as u32, m as u32, (s as u32).min(59)))
                })
            }
            0x001D => self.date = ascii(v),
            _ => {}
        }
    }

    /// Signed degrees; `None` when a part is missing, out of range, or 0/0 (a phone's "no fix").
    fn position(&self) -> Option<(f64, f64)> {
        let sign = |r: &Option<String>, neg: char| match r.as_deref().and_then(|r| r.chars().next()) {
            Some(c) if c.eq_ignore_ascii_case(&neg) => -1.0,
            _ => 1.0,
        };
        let lat = self.lat? * sign(&self.lat_ref, 'S');
        let lon = self.lon? * sign(&self.lon_ref, 'W');
        let valid = lat.abs() <= 90.0 && lon.abs() <= 180.0 && (lat != 0.0 || lon != 0.0);
        valid.then_some((lat, lon))
    }

    fn time(&self) -> Option<NaiveDateTime> {
        let (h, m, s) = self.time?;
        let date = self.date.as_deref()?;
        parse_exif_datetime(&format!("{date} {h:02}:{m:02}:{s:02}"))
    }
}

const MAX_RAW_READ: u64 = 256 << 20;

/// A reader that keeps whatever fields it could parse from a damaged EXIF
/// block (many cameras write a bad field or two next to a good date).
fn reader() -> exif::Reader {
    let mut r = exif::Reader::new();
    r.continue_on_error(true);
    r
}

fn lenient(result: Result<exif::Exif, exif::Error>) -> Option<exif::Exif> {
    result.or_else(|e| e.distill_partial_result(|_| {})).ok()
}

fn read_range(file: &mut File, offset: u64, len: u64) -> Option<Vec<u8>> {
    if len > MAX_RAW_READ {
        return None;
    }
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 == len).then_some(buf)
}

/// The EXIF fields of a whole file held in memory (JPEG, TIFF-based, PNG, WebP).
pub fn read_bytes(data: &[u8], kind: Kind) -> Option<ExifFields> {
    match kind {
        Kind::Jpeg | Kind::Tiff | Kind::Cr2 | Kind::Nef | Kind::Arw | Kind::Dng | Kind::Png | Kind::Webp => {
            let exif = lenient(reader().read_from_container(&mut Cursor::new(data)))?;
            Some(fields_of(&exif))
        }
        Kind::Rw2 | Kind::Orf => {
            let mut data = data.to_vec();
            let magic: &[u8] = if data.starts_with(b"MM") { b"MM\0*" } else { b"II*\0" };
            data.get_mut(..4)?.copy_from_slice(magic);
            Some(fields_of(&lenient(reader().read_raw(data))?))
        }
        Kind::Jxl | Kind::Jp2 | Kind::Crw | Kind::Mrw | Kind::X3f => newer_kinds(data, kind),
        _ => None,
    }
}

/// JPEG XL and JPEG 2000 (an EXIF box), and the older RAWs ([`super::oldraw`]).
fn newer_kinds(data: &[u8], kind: Kind) -> Option<ExifFields> {
    let tiff = |t: &[u8]| lenient(reader().read_raw(t.to_vec())).map(|e| fields_of(&e));
    match kind {
        Kind::Jxl => tiff(super::jxl::exif_tiff(data)?),
        Kind::Jp2 => tiff(super::jp2::exif_tiff(data)?),
        Kind::Crw => {
            let (taken, make, model) = super::oldraw::crw_date_and_camera(data);
            let mut out = ExifFields { original: taken.map(|t| (t, None)), make, model, ..Default::default() };
            out.capture.camera = out.camera();
            Some(out)
        }
        Kind::Mrw | Kind::X3f => {
            let (block, is_jpeg) = super::oldraw::exif_block(data, kind)?;
            if is_jpeg {
                Some(fields_of(&lenient(reader().read_from_container(&mut Cursor::new(block)))?))
            } else {
                tiff(block)
            }
        }
        _ => None,
    }
}

/// Reads the EXIF fields of a file of `kind`, or `None` when it has none we can read.
pub fn read(file: &mut File, kind: Kind, file_len: u64) -> Option<ExifFields> {
    match kind {
        Kind::Jpeg
        | Kind::Tiff
        | Kind::Cr2
        | Kind::Nef
        | Kind::Arw
        | Kind::Dng
        | Kind::Png
        | Kind::Webp
        | Kind::Heif
        | Kind::Avif => {
            file.seek(SeekFrom::Start(0)).ok()?;
            let exif = lenient(reader().read_from_container(&mut BufReader::new(&mut *file)))?;
            Some(fields_of(&exif))
        }
        Kind::Raf => {
            // RAF header: big-endian offset (byte 84) and length (byte 88) of the embedded JPEG.
            let head = read_range(file, 0, 92)?;
            let off = u32::from_be_bytes(head.get(84..88)?.try_into().ok()?) as u64;
            let len = u32::from_be_bytes(head.get(88..92)?.try_into().ok()?) as u64;
            if off.checked_add(len)? > file_len {
                return None;
            }
            let jpeg = read_range(file, off, len)?;
            let exif = lenient(reader().read_from_container(&mut std::io::Cursor::new(jpeg)))?;
            Some(fields_of(&exif))
        }
        Kind::Rw2 | Kind::Orf => {
            let mut data = read_range(file, 0, file_len)?;
            let magic: &[u8] = if data.starts_with(b"MM") { b"MM\0*" } else { b"II*\0" };
            data.get_mut(..4)?.copy_from_slice(magic);
            let exif = lenient(reader().read_raw(data))?;
            Some(fields_of(&exif))
        }
        Kind::Jxl | Kind::Jp2 | Kind::Crw | Kind::Mrw | Kind::X3f => newer_kinds(&read_range(file, 0, file_len)?, kind),
        Kind::Cr3 => {
            let mut out = ExifFields::default();
            for block in bmff::canon_cmt_blocks(file, file_len)? {
                if let Some(exif) = lenient(reader().read_raw(block)) {
                    out.merge(fields_of(&exif));
                }
            }
            Some(out)
        }
        _ => None,
    }
}
