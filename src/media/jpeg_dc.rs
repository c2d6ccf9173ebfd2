//! Fast 1/8-scale grayscale decoding of baseline JPEGs from the luma DC coefficients only.
//!
//! A JPEG decoded at scale 1/8 turns every 8x8 block into one pixel whose value only depends on
//! the block's DC coefficient (libjpeg-turbo's `jpeg_idct_1x1` in `jidctred.c`). For a grayscale
//! output only the luma (first) component is needed, so this module:
//!
//! * parses the markers up to the first SOS (DQT, DHT, SOF, DRI, APP0/APP14 for the colour space),
//! * entropy-decodes the first scan, keeping the DC predictor of the luma component and *skipping*
//!   every AC coefficient (and all chroma values) without ever storing them,
//! * maps each luma DC value to a pixel exactly like libjpeg-turbo does.
//!
//! The result is byte-identical to libjpeg-turbo 3.x's `tj3Decompress8` with scaling factor 1/8
//! and `TJPF_GRAY` for every file that libjpeg-turbo decodes without a warning (checked by
//! `tests/equal_to_turbo.rs`).
//!
//! # Speed
//!
//! Nearly all the time goes into skipping AC coefficients. Each AC Huffman table gets a lookup
//! table (see `AcTable`) indexed by the next [`AC_LUT_BITS`] bits of the stream; one entry
//! resolves one or more complete (run, size) symbols *including their magnitude bits* (which are
//! skipped, never read), so the common case costs one table load, one shift and a couple of adds
//! per one to four coefficients.
//! Codes that do not fit go through a bit-serial canonical-Huffman slow path (as libjpeg's
//! `jpeg_huff_decode`). The bit reader keeps a 64-bit left-aligned buffer and refills it with
//! 8-byte loads when the next 8 bytes contain no `0xFF` (no byte stuffing and no marker).
//!
//! # What is not supported
//!
//! [`decode_luma_dc`] returns [`DcError::Unsupported`] (so the caller can fall back to a full
//! decoder) for progressive, lossless, arithmetic-coded, 12-bit, hierarchical files, for colour
//! spaces where grayscale is not simply the first component (RGB/CMYK/YCCK/2-component), for files
//! whose first scan does not contain the luma component, and for sampling layouts where luma is not
//! the component with the largest sampling factors (libjpeg-turbo would then not use the 1x1 IDCT
//! for it).
//!
//! Multi-scan sequential files whose *first* scan contains luma (e.g. non-interleaved Y, Cb, Cr
//! scans, or Y+Cb then Cr) are decoded from that first scan alone; later scans are not read.
//! For a conforming file this is exact, since a component appears in only one sequential scan.
//!
//! The quantizer is treated as a 16-bit signed `ISLOW_MULT_TYPE`, as in libjpeg-turbo builds with
//! SIMD (the usual case); this only matters for 16-bit DQT entries above 32767.
//!
//! # Damaged data
//!
//! libjpeg-turbo pads truncated entropy data with zeros and emits a warning (TurboJPEG reports a
//! warning as an error). This module instead returns `DcError::Corrupt("truncated ...")` as soon
//! as a bit beyond the end of the entropy-coded segment would be *consumed* (the same condition
//! that makes libjpeg-turbo warn). Invalid Huffman codes and wrong restart markers are
//! `DcError::Corrupt` as well. Garbage bytes between header markers are skipped like libjpeg does.

use std::fmt;

/// Largest accepted `width * height` (in full-resolution pixels).
pub const MAX_PIXELS: u64 = 200_000_000;

/// Number of stream bits used to index an AC lookup table (`1 << AC_LUT_BITS` entries of 4 bytes).
pub const AC_LUT_BITS: u32 = 12;
/// Number of stream bits used to index a DC lookup table.
const DC_LUT_BITS: u32 = 9;
/// libjpeg-turbo's JPEG_MAX_DIMENSION.
const JPEG_MAX_DIMENSION: u32 = 65500;
/// libjpeg's D_MAX_BLOCKS_IN_MCU.
const MAX_BLOCKS_IN_MCU: usize = 10;

/// Grayscale image, row-major, one byte per pixel, `pixels.len() == width * height`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcImage {
    /// Width in pixels (`ceil(jpeg_width / 8)`).
    pub width: usize,
    /// Height in pixels (`ceil(jpeg_height / 8)`).
    pub height: usize,
    /// `width * height` luma samples, row by row.
    pub pixels: Vec<u8>,
}

/// What the frame header (SOFn) says. Produced by [`read_info`] without touching entropy data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JpegInfo {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels (0 would mean "defined by DNL", which is rejected as corrupt).
    pub height: u32,
    /// Number of colour components in the frame.
    pub components: u8,
    /// Sample precision in bits (8 or 12 for DCT-based files).
    pub precision: u8,
    /// Coding process, from the SOF marker type.
    pub process: Process,
}

/// JPEG coding process, as announced by the SOF marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    /// SOF0: baseline sequential DCT, Huffman coded.
    Baseline,
    /// SOF1: extended sequential DCT, Huffman coded.
    ExtendedHuffman,
    /// SOF2: progressive DCT, Huffman coded.
    Progressive,
    /// SOF3: lossless, Huffman coded.
    Lossless,
    /// SOF9, SOF10, SOF11: arithmetic coded (sequential, progressive or lossless).
    Arithmetic,
}

/// Why a JPEG could not be decoded by this module.
#[derive(thiserror::Error, Debug)]
pub enum DcError {
    /// Valid (or at least plausible) JPEG that this fast path does not handle; fall back to a
    /// full decoder such as libjpeg-turbo.
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    /// Broken data: truncated, bad marker, bad Huffman table or code, bad restart marker, ...
    #[error("corrupt JPEG: {0}")]
    Corrupt(String),
    /// `width * height` exceeds [`MAX_PIXELS`]; refused before allocating anything.
    #[error("JPEG too large: {width}x{height}")]
    TooLarge {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
}

fn corrupt(msg: impl fmt::Display) -> DcError {
    DcError::Corrupt(msg.to_string())
}

fn unsupported(msg: impl fmt::Display) -> DcError {
    DcError::Unsupported(msg.to_string())
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

/// One frame component (from SOF).
#[derive(Clone, Copy, Debug, Default)]
struct Component {
    id: u8,
    h: u8,
    v: u8,
    tq: u8,
}

/// Raw DHT contents: code counts per length 1..=16 and the symbols (zero padded to 256).
#[derive(Clone)]
struct RawHuffman {
    bits: [u8; 17],
    vals: [u8; 256],
}

/// Frame information plus everything needed to decode the first scan.
struct Header {
    info: JpegInfo,
    comps: Vec<Component>,
    /// DC entry (`quantval[0]`) of the four quantization tables, if defined.
    qdc: [Option<u16>; 4],
    dc_tables: [Option<RawHuffman>; 4],
    ac_tables: [Option<RawHuffman>; 4],
    restart_interval: u16,
    saw_jfif: bool,
    adobe_transform: Option<u8>,
    /// First scan: (frame component index, dc table, ac table) in scan order.
    scan: Vec<(usize, u8, u8)>,
    /// Offset of the first entropy-coded byte of the first scan.
    scan_start: usize,
}

/// Marker-level reader over the whole file.
struct Markers<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Markers<'a> {
    fn u8(&mut self) -> Result<u8, DcError> {
        let b = *self.data.get(self.pos).ok_or_else(|| corrupt("truncated header"))?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, DcError> {
        let hi = self.u8()?;
        let lo = self.u8()?;
        Ok(u16::from_be_bytes([hi, lo]))
    }

    /// Like libjpeg's `next_marker`: skip garbage and fill bytes, return the marker code.
    fn next_marker(&mut self) -> Result<u8, DcError> {
        loop {
            while self.u8()? != 0xFF {}
            let mut c = self.u8()?;
            while c == 0xFF {
                c = self.u8()?;
            }
            if c != 0 {
                return Ok(c);
            }
        }
    }

    /// Read a marker segment's length word and return its payload (without the length).
    fn segment(&mut self) -> Result<&'a [u8], DcError> {
        let len = usize::from(self.u16()?);
        if len < 2 {
            return Err(corrupt("bad marker length"));
        }
        let end = self.pos.checked_add(len - 2).ok_or_else(|| corrupt("bad marker length"))?;
        let payload = self.data.get(self.pos..end).ok_or_else(|| corrupt("truncated marker segment"))?;
        self.pos = end;
        Ok(payload)
    }
}

fn parse_sof(payload: &[u8], process: Process) -> Result<(JpegInfo, Vec<Component>), DcError> {
    let [precision, h0, h1, w0, w1, n, rest @ ..] = payload else {
        return Err(corrupt("short SOF"));
    };
    let n = usize::from(*n);
    if n == 0 {
        return Err(corrupt("SOF with no components"));
    }
    if rest.len() != 3 * n {
        return Err(corrupt("bad SOF length"));
    }
    let comps = rest.chunks_exact(3).map(|c| Component { id: c[0], h: c[1] >> 4, v: c[1] & 15, tq: c[2] }).collect();
    let info = JpegInfo {
        width: u32::from(u16::from_be_bytes([*w0, *w1])),
        height: u32::from(u16::from_be_bytes([*h0, *h1])),
        components: n as u8,
        precision: *precision,
        process,
    };
    Ok((info, comps))
}

/// Parse markers from SOI up to the first SOS (or only up to SOF when `stop_at_sof`).
fn parse_header(data: &[u8], stop_at_sof: bool) -> Result<Header, DcError> {
    if data.len() < 2 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(corrupt("not a JPEG (no SOI)"));
    }
    let mut m = Markers { data, pos: 2 };
    let mut hdr = Header {
        info: JpegInfo { width: 0, height: 0, components: 0, precision: 0, process: Process::Baseline },
        comps: Vec::new(),
        qdc: [None; 4],
        dc_tables: [None, None, None, None],
        ac_tables: [None, None, None, None],
        restart_interval: 0,
        saw_jfif: false,
        adobe_transform: None,
        scan: Vec::new(),
        scan_start: 0,
    };
    let mut saw_sof = false;
    loop {
        let marker = m.next_marker()?;
        match marker {
            0xC0 | 0xC1 | 0xC2 | 0xC3 | 0xC9 | 0xCA | 0xCB => {
                if saw_sof {
                    return Err(corrupt("duplicate SOF"));
                }
                saw_sof = true;
                let process = match marker {
                    0xC0 => Process::Baseline,
                    0xC1 => Process::ExtendedHuffman,
                    0xC2 => Process::Progressive,
                    0xC3 => Process::Lossless,
                    _ => Process::Arithmetic,
                };
                let (info, comps) = parse_sof(m.segment()?, process)?;
                hdr.info = info;
                hdr.comps = comps;
                if stop_at_sof {
                    return Ok(hdr);
                }
            }
            0xC5..=0xC7 | 0xC8 | 0xCD..=0xCF => {
                return Err(unsupported(format_args!("hierarchical/reserved SOF marker 0x{marker:02X}")));
            }
            0xC4 => parse_dht(m.segment()?, &mut hdr)?,
            0xDB => parse_dqt(m.segment()?, &mut hdr)?,
            0xDD => {
                let p = m.segment()?;
                let [a, b] = p else {
                    return Err(corrupt("bad DRI length"));
                };
                hdr.restart_interval = u16::from_be_bytes([*a, *b]);
            }
            0xE0 => {
                let p = m.segment()?;
                if p.len() >= 14 && p.starts_with(b"JFIF\0") {
                    hdr.saw_jfif = true;
                }
            }
            0xEE => {
                let p = m.segment()?;
                if p.len() >= 12 && p.starts_with(b"Adobe") {
                    hdr.adobe_transform = Some(p[11]);
                }
            }
            // APP1..APP13, APP15, COM, DAC, DNL: skip.
            0xE1..=0xED | 0xEF | 0xFE | 0xCC | 0xDC => {
                m.segment()?;
            }
            // Parameterless: RSTn, TEM.
            0xD0..=0xD7 | 0x01 => {}
            0xD8 => return Err(corrupt("duplicate SOI")),
            0xD9 => return Err(corrupt("EOI before any scan")),
            0xDA => {
                if !saw_sof {
                    return Err(corrupt("SOS before SOF"));
                }
                parse_sos(m.segment()?, &mut hdr)?;
                hdr.scan_start = m.pos;
                return Ok(hdr);
            }
            _ => return Err(corrupt(format_args!("unknown marker 0x{marker:02X}"))),
        }
    }
}

fn parse_dht(mut p: &[u8], hdr: &mut Header) -> Result<(), DcError> {
    while p.len() > 16 {
        let index = p[0];
        let mut bits = [0u8; 17];
        bits[1..].copy_from_slice(&p[1..17]);
        let count: usize = bits.iter().map(|&b| usize::from(b)).sum();
        p = &p[17..];
        if count > 256 || count > p.len() {
            return Err(corrupt("bad Huffman table"));
        }
        let mut vals = [0u8; 256];
        vals[..count].copy_from_slice(&p[..count]);
        p = &p[count..];
        let slot = usize::from(index & 0x0F);
        if index & 0xEF >= 4 {
            return Err(corrupt("bad DHT table index"));
        }
        let table = Some(RawHuffman { bits, vals });
        if index & 0x10 != 0 {
            hdr.ac_tables[slot] = table;
        } else {
            hdr.dc_tables[slot] = table;
        }
    }
    if !p.is_empty() {
        return Err(corrupt("bad DHT length"));
    }
    Ok(())
}

fn parse_dqt(mut p: &[u8], hdr: &mut Header) -> Result<(), DcError> {
    while let Some((&pq_tq, rest)) = p.split_first() {
        let n = usize::from(pq_tq & 0x0F);
        if n >= 4 {
            return Err(corrupt("bad DQT table index"));
        }
        let size = if pq_tq >> 4 != 0 { 128 } else { 64 };
        let table = rest.get(..size).ok_or_else(|| corrupt("bad DQT length"))?;
        // The first value in zigzag order is the DC entry (natural index 0).
        hdr.qdc[n] = Some(if size == 128 { u16::from_be_bytes([table[0], table[1]]) } else { u16::from(table[0]) });
        p = &rest[size..];
    }
    Ok(())
}

fn parse_sos(p: &[u8], hdr: &mut Header) -> Result<(), DcError> {
    let (&n, rest) = p.split_first().ok_or_else(|| corrupt("short SOS"))?;
    let n = usize::from(n);
    if !(1..=4).contains(&n) || p.len() != 2 * n + 4 {
        return Err(corrupt("bad SOS length"));
    }
    let mut used = [false; 4];
    for cs in rest.chunks_exact(2).take(n) {
        // Same matching rule as libjpeg: first not-yet-used frame component (among the first 4).
        let ci = hdr
            .comps
            .iter()
            .take(4)
            .enumerate()
            .position(|(i, c)| c.id == cs[0] && !used[i])
            .ok_or_else(|| corrupt("bad component id in SOS"))?;
        used[ci] = true;
        let (td, ta) = (cs[1] >> 4, cs[1] & 15);
        if td >= 4 || ta >= 4 {
            return Err(corrupt("bad Huffman table number in SOS"));
        }
        hdr.scan.push((ci, td, ta));
    }
    Ok(())
}

/// Read the frame header (SOFn) and return what it says. Only the markers before the SOF are
/// looked at and no entropy-coded data is touched, so this is cheap.
pub fn read_info(data: &[u8]) -> Result<JpegInfo, DcError> {
    Ok(parse_header(data, true)?.info)
}

// ---------------------------------------------------------------------------------------------
// Huffman tables
// ---------------------------------------------------------------------------------------------

/// Standard tables from JPEG Annex K.3, used (as libjpeg-turbo does for Motion-JPEG) when
/// slot 0 or 1 was never defined by a DHT before the first scan.
fn std_table(ac: bool, slot: usize) -> Option<RawHuffman> {
    const DC_LUMA_BITS: [u8; 17] = [0, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const DC_CHROMA_BITS: [u8; 17] = [0, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    const DC_VALS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const AC_LUMA_BITS: [u8; 17] = [0, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
    const AC_LUMA_VALS: [u8; 162] = [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
        0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
        0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
        0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
        0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
        0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
        0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];
    const AC_CHROMA_BITS: [u8; 17] = [0, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
    const AC_CHROMA_VALS: [u8; 162] = [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22,
        0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1,
        0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36,
        0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
        0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
        0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
        0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
        0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];
    let (bits, vals): (&[u8; 17], &[u8]) = match (ac, slot) {
        (false, 0) => (&DC_LUMA_BITS, &DC_VALS),
        (false, 1) => (&DC_CHROMA_BITS, &DC_VALS),
        (true, 0) => (&AC_LUMA_BITS, &AC_LUMA_VALS),
        (true, 1) => (&AC_CHROMA_BITS, &AC_CHROMA_VALS),
        _ => return None,
    };
    let mut raw = RawHuffman { bits: *bits, vals: [0; 256] };
    raw.vals[..vals.len()].copy_from_slice(vals);
    Some(raw)
}

/// Canonical Huffman decoding data (JPEG Figure F.15/F.16, as libjpeg's `d_derived_tbl`).
struct Canonical {
    /// Largest code of each length 1..=16, -1 when there is none; `[17]` is a sentinel.
    maxcode: [i32; 18],
    /// Index into `vals` of the first code of each length, minus that code.
    valoffset: [i32; 18],
    vals: [u8; 256],
    /// (code, length) for each symbol in `vals` order.
    codes: Vec<(u32, u32)>,
}

impl Canonical {
    /// Validate and derive a table exactly as libjpeg's `jpeg_make_d_derived_tbl` does.
    fn new(raw: &RawHuffman, is_dc: bool) -> Result<Self, DcError> {
        let mut codes = Vec::with_capacity(256);
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 18];
        let mut code: u32 = 0;
        for len in 1..=16u32 {
            let n = u32::from(raw.bits[len as usize]);
            if n > 0 {
                valoffset[len as usize] = codes.len() as i32 - code as i32;
            }
            for _ in 0..n {
                if codes.len() >= 256 {
                    return Err(corrupt("bad Huffman table"));
                }
                codes.push((code, len));
                code += 1;
            }
            // As libjpeg: the codes must fit in `len` bits and none may be all ones.
            if code >= (1u32 << len) {
                return Err(corrupt("bad Huffman table"));
            }
            if n > 0 {
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        maxcode[17] = 0xFFFFF;
        if is_dc && raw.vals[..codes.len()].iter().any(|&s| s > 15) {
            return Err(corrupt("bad DC Huffman symbol"));
        }
        Ok(Canonical { maxcode, valoffset, vals: raw.vals, codes })
    }

    /// Decode one symbol from the 16 bits at the top of `peek16` bit-serially.
    /// Returns (code length, symbol), or None for an invalid code (libjpeg: "l > 16").
    #[inline(never)]
    fn decode_slow(&self, peek16: u32) -> Option<(u32, u8)> {
        for len in 1..=16u32 {
            let code = (peek16 >> (16 - len)) as i32;
            if code <= self.maxcode[len as usize] {
                let idx = (code.wrapping_add(self.valoffset[len as usize]) & 0xFF) as usize;
                return Some((len, self.vals[idx]));
            }
        }
        None
    }
}

/// DC table: lookup of (code length << 8 | symbol) for codes up to [`DC_LUT_BITS`] long,
/// 0 meaning "longer code, use the slow path".
struct DcTable {
    lut: Box<[u16; 1 << DC_LUT_BITS]>,
    canon: Canonical,
}

impl DcTable {
    fn new(raw: &RawHuffman) -> Result<Self, DcError> {
        let canon = Canonical::new(raw, true)?;
        let mut lut = Box::new([0u16; 1 << DC_LUT_BITS]);
        for (i, &(code, len)) in canon.codes.iter().enumerate() {
            if len <= DC_LUT_BITS {
                let first = (code << (DC_LUT_BITS - len)) as usize;
                let count = 1usize << (DC_LUT_BITS - len);
                let entry = ((len as u16) << 8) | u16::from(canon.vals[i]);
                for e in lut.iter_mut().skip(first).take(count) {
                    *e = entry;
                }
            }
        }
        Ok(DcTable { lut, canon })
    }
}

/// Advance of the coefficient index `k` for an end-of-block symbol: pushes `k` past 63.
const EOB_ADVANCE: u32 = 64;

/// AC table with the multi-symbol skip lookup.
///
/// Skipping an AC coefficient only needs to know how many bits it occupies (Huffman code length
/// plus magnitude size `s`) and how far it moves the zigzag index `k` (run + 1; 16 for ZRL; EOB ends
/// the block). The magnitude bits themselves are never looked at, so they need not lie inside
/// the lookup window. `lut` is indexed by the next [`AC_LUT_BITS`] stream bits; each `u32` entry:
///
/// | bits   | field      | meaning                                                              |
/// |--------|------------|----------------------------------------------------------------------|
/// | 0..8   | `bits_all` | bits used by all symbols of the entry (codes + magnitude bits)        |
/// | 8..16  | `adv_all`  | total advance of `k` for all symbols of the entry                    |
/// | 16..24 | `bits1`    | bits used by the first symbol only                                   |
/// | 24..32 | `adv1`     | advance of the first symbol: run+1, 16 for ZRL, 64 ([`EOB_ADVANCE`]) for EOB |
///
/// The first symbol is always included if its *code* fits in the window (its magnitude may extend
/// past it: at most 12 + 15 bits are consumed, and the reader guarantees 32). Further symbols are
/// appended greedily while the previous symbols (magnitudes included) leave the next code wholly
/// inside the window, no EOB has been seen, and the advance accumulated *before* the appended
/// symbol is at most 16. The latter makes an entry safe to apply in full whenever `k < 48`: the
/// block cannot end before its last symbol. Near the end of a block (`k >= 48`) the decoder uses
/// only the first symbol (`bits1`, `adv1`). `bits_all` sits in the low byte so it can feed the
/// shift instruction directly. An entry of 0 means the first code is longer than the window (slow
/// path). The block ends when `k >= 64`, which reproduces libjpeg's `for (k = 1; k < 64; k++)` skip
/// loop exactly, including its treatment of (r, 0) symbols with r < 15 as EOB and runs that
/// overshoot position 63.
struct AcTable {
    lut: Box<[u32; 1 << AC_LUT_BITS]>,
    canon: Canonical,
}

/// (bits used, k advance) of an AC symbol whose code has length `len`.
fn ac_symbol(len: u32, sym: u8) -> (u32, u32) {
    let (r, s) = (u32::from(sym >> 4), u32::from(sym & 15));
    if s != 0 {
        (len + s, r + 1)
    } else if r == 15 {
        (len, 16)
    } else {
        (len, EOB_ADVANCE)
    }
}

impl AcTable {
    fn new(raw: &RawHuffman) -> Result<Self, DcError> {
        let canon = Canonical::new(raw, false)?;
        // Single-symbol lookup first: (len, sym) for codes up to AC_LUT_BITS long.
        let mut single = vec![(0u32, 0u8); 1 << AC_LUT_BITS];
        for (i, &(code, len)) in canon.codes.iter().enumerate() {
            if len <= AC_LUT_BITS {
                let first = (code << (AC_LUT_BITS - len)) as usize;
                let count = 1usize << (AC_LUT_BITS - len);
                for e in single.iter_mut().skip(first).take(count) {
                    *e = (len, canon.vals[i]);
                }
            }
        }
        let mut lut = Box::new([0u32; 1 << AC_LUT_BITS]);
        let mask = (1u32 << AC_LUT_BITS) - 1;
        for (idx, entry) in lut.iter_mut().enumerate() {
            let (len1, sym1) = single[idx];
            if len1 == 0 {
                continue; // code longer than the window: slow path
            }
            // The magnitude bits are skipped, never read, so they need not be inside the window.
            let (bits1, adv1) = ac_symbol(len1, sym1);
            // Greedily append further symbols while (a) the previous symbols, magnitude bits
            // included, leave the next code completely inside the window, (b) no EOB was seen and
            // (c) the advance before the appended symbol is at most 16, so that with k < 48 the
            // block cannot end in the middle of an entry.
            let (mut bits2, mut adv2) = (bits1, adv1);
            // adv2 <= 16 also stops after an EOB (advance 64).
            while adv2 <= 16 && bits2 < AC_LUT_BITS {
                let rest = ((idx as u32) << bits2) & mask;
                let (len, sym) = single[rest as usize];
                if len == 0 || bits2 + len > AC_LUT_BITS {
                    break;
                }
                let (b, a) = ac_symbol(len, sym);
                bits2 += b;
                adv2 += a;
            }
            *entry = bits2 | (adv2 << 8) | (bits1 << 16) | (adv1 << 24);
        }
        Ok(AcTable { lut, canon })
    }
}

// ---------------------------------------------------------------------------------------------
// Bit reader
// ---------------------------------------------------------------------------------------------

/// Entropy-coded segment reader with a 64-bit left-aligned bit buffer.
///
/// Invariant: the `nbits` valid bits are the top bits of `buf`; all lower bits are zero.
/// When a marker (or the end of the data) is reached, zero bits are appended instead (like
/// libjpeg) and counted in `zeros`; consuming any of them means the data was truncated, which
/// is the case exactly when `zeros > nbits` (all padding sits after all real bits).
struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to load into `buf`. When `at_marker`, the position of the marker's first 0xFF.
    pos: usize,
    buf: u64,
    nbits: u32,
    at_marker: bool,
    zeros: u64,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader { data, pos, buf: 0, nbits: 0, at_marker: false, zeros: 0 }
    }

    /// Make sure at least 32 bits are available (enough for a 16-bit code + 15 magnitude bits,
    /// or for one multi-symbol AC lookup, which consumes at most 12 + 15 bits).
    ///
    /// Fast path: when the next 8 bytes contain no 0xFF (no stuffing, no marker), as many whole
    /// bytes as fit are ORed into the buffer at once (`nbits` becomes `nbits | 56`, the trick from
    /// F. Giesen's "Reading bits in far too many ways"). Otherwise the byte-wise path runs.
    /// (Refilling unconditionally on every call, branch-free, was measured slower.)
    #[inline(always)]
    fn ensure(&mut self) {
        if self.nbits >= 32 {
            return;
        }
        if let Some(chunk) = self.data.get(self.pos..self.pos.wrapping_add(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let w = u64::from_be_bytes(b);
            // Zero-byte test on !w: true iff some byte of w is 0xFF.
            let has_ff = (!w).wrapping_sub(0x0101_0101_0101_0101) & w & 0x8080_8080_8080_8080 != 0;
            if !has_ff {
                let n = self.nbits; // < 32
                                    // Keep only whole bytes so that the bits below the valid ones stay zero.
                self.buf |= (w >> n) & !(u64::MAX >> (n | 56));
                self.pos += ((63 - n) >> 3) as usize;
                self.nbits = n | 56;
                return;
            }
        }
        self.refill();
    }

    /// Careful refill: byte-wise near 0xFF bytes, zero padding once a marker is reached.
    #[inline(always)]
    fn refill(&mut self) {
        if !self.at_marker {
            (self.pos, self.buf, self.nbits, self.at_marker) =
                Self::refill_slow(self.data, self.pos, self.buf, self.nbits);
        }
        if self.nbits < 32 {
            // At a marker: append zero bits (the buffer's low bits are already zero).
            self.zeros += u64::from(56 - self.nbits);
            self.nbits = 56;
        }
    }

    /// Byte-by-byte refill handling 0xFF00 stuffing and stopping at markers, like libjpeg's
    /// `jpeg_fill_bit_buffer` (0xFF 0xFF ... 0x00 is one 0xFF data byte).
    ///
    /// Works on values rather than `&mut self` so that the reader never escapes and its fields
    /// can live in registers in the hot loop. Returns (pos, buf, nbits, at_marker).
    #[inline(never)]
    fn refill_slow(data: &[u8], mut pos: usize, mut buf: u64, mut nbits: u32) -> (usize, u64, u32, bool) {
        while nbits <= 56 {
            let Some(&b) = data.get(pos) else {
                return (pos, buf, nbits, true);
            };
            let mut next = pos + 1;
            if b == 0xFF {
                while data.get(next) == Some(&0xFF) {
                    next += 1;
                }
                if data.get(next) != Some(&0) {
                    return (pos, buf, nbits, true);
                }
                next += 1;
            }
            buf |= u64::from(b) << (56 - nbits);
            nbits += 8;
            pos = next;
        }
        (pos, buf, nbits, false)
    }

    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        (self.buf >> (64 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.nbits -= n;
    }

    /// True if a padding bit past the end of the segment has been consumed.
    #[inline(always)]
    fn overran(&self) -> bool {
        self.zeros > u64::from(self.nbits)
    }

    /// Decode a DC difference (Huffman symbol + magnitude bits, sign-extended).
    #[inline(always)]
    fn dc_diff(&mut self, t: &DcTable) -> Result<i32, DcError> {
        self.ensure();
        let e = t.lut[self.peek(DC_LUT_BITS) as usize];
        let (len, s) = if e != 0 {
            (u32::from(e >> 8), u32::from(e & 0xFF))
        } else {
            let (len, sym) = t.canon.decode_slow(self.peek(16)).ok_or_else(|| corrupt("bad Huffman code"))?;
            (len, u32::from(sym))
        };
        self.consume(len);
        if s == 0 {
            return Ok(0);
        }
        // s <= 15 (checked when the table was built); len + s <= 31 <= nbits.
        let v = self.peek(s) as i32;
        self.consume(s);
        Ok(if v < (1 << (s - 1)) { v - (1 << s) + 1 } else { v })
    }

    /// Skip the 63 AC coefficients of one block.
    #[inline(always)]
    fn skip_ac(&mut self, t: &AcTable) -> Result<(), DcError> {
        let lut: &[u32; 1 << AC_LUT_BITS] = &t.lut;
        let mut k: u32 = 1;
        // Phase 1: while k < 48 the block cannot end after a non-EOB first symbol (its advance
        // is at most 16), so both symbols of an entry can always be taken: no dependency on `k`
        // in the bit-buffer critical path.
        while k < 48 {
            self.ensure();
            let e = lut[self.peek(AC_LUT_BITS) as usize];
            if e == 0 {
                k += self.ac_slow(t)?;
                continue;
            }
            self.consume(e & 0xFF);
            k += (e >> 8) & 0xFF;
        }
        // Phase 2 (end of block): one symbol at a time, as the block may end after any of them.
        while k < 64 {
            self.ensure();
            let e = lut[self.peek(AC_LUT_BITS) as usize];
            if e == 0 {
                k += self.ac_slow(t)?;
                continue;
            }
            self.consume((e >> 16) & 0xFF);
            k += e >> 24;
        }
        Ok(())
    }

    /// One AC symbol through the bit-serial path (code longer than the lookup window).
    /// Returns the k advance.
    #[inline(always)]
    fn ac_slow(&mut self, t: &AcTable) -> Result<u32, DcError> {
        let (n, adv) = ac_slow_symbol(t, self.peek(16))?;
        self.consume(n);
        Ok(adv)
    }

    /// Process a restart marker: drop buffered bits, find the next marker (skipping garbage like
    /// libjpeg's `next_marker`) and require it to be RSTn with the expected n.
    #[inline(always)]
    fn restart(&mut self, expected: u8) -> Result<(), DcError> {
        let pos = restart_position(self.data, self.pos, self.overran(), expected)?;
        *self = BitReader::new(self.data, pos);
        Ok(())
    }
}

/// (bits used, k advance) of one AC symbol decoded bit-serially from the top of `peek16`.
#[inline(never)]
fn ac_slow_symbol(t: &AcTable, peek16: u32) -> Result<(u32, u32), DcError> {
    let (len, sym) = t.canon.decode_slow(peek16).ok_or_else(|| corrupt("bad Huffman code"))?;
    Ok(ac_symbol(len, sym))
}

/// Find the RSTn marker at or after `pos`; return the position just after it.
#[inline(never)]
fn restart_position(data: &[u8], pos: usize, overran: bool, expected: u8) -> Result<usize, DcError> {
    if overran {
        return Err(corrupt("truncated entropy-coded segment"));
    }
    let mut m = Markers { data, pos };
    let marker = m.next_marker().map_err(|_| corrupt("truncated: missing restart marker"))?;
    if marker != 0xD0 + expected {
        return Err(corrupt(format_args!("expected RST{expected}, found marker 0x{marker:02X}")));
    }
    Ok(m.pos)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// libjpeg-turbo's `jpeg_idct_1x1` followed by its `range_limit[x & RANGE_MASK]` lookup.
///
/// * the coefficient is stored as a 16-bit `JCOEF`, the quantizer as a 16-bit `ISLOW_MULT_TYPE`
///   (`short` in SIMD builds), and they are multiplied as `int`;
/// * `DESCALE(x, 3)` is `(x + 4) >> 3` (arithmetic shift);
/// * the post-IDCT range-limit table maps the value masked to 10 bits as follows:
///   `0..128 -> x+128`, `128..512 -> 255`, `512..896 -> 0`, `896..1024 -> x-896`,
///   i.e. sign-extend the 10-bit value, add 128 and clamp to 0..=255 (values wrap mod 1024).
#[inline(always)]
fn dc_to_pixel(dc: i32, q: i32) -> u8 {
    let coef = i32::from(dc as i16);
    let x = (coef * q + 4) >> 3; // |coef * q| <= 2^30, no overflow
    let wrapped = ((x & 1023) ^ 512) - 512; // sign-extend 10 bits
    (wrapped + 128).clamp(0, 255) as u8
}

/// One block of the MCU: which tables to use and, for luma, where it goes.
#[derive(Clone, Copy, Default)]
struct BlockSpec {
    /// Index into the scan's component list (DC predictor slot).
    scomp: usize,
    dc: usize,
    ac: usize,
    luma: bool,
    dx: usize,
    dy: usize,
}

/// Decode the 1/8-scale grayscale image of a baseline / extended-Huffman 8-bit JPEG from the
/// luma DC coefficients.
///
/// The result has `ceil(width / 8) x ceil(height / 8)` pixels and is byte-identical to
/// libjpeg-turbo's decode at scaling factor 1/8 to `TJPF_GRAY` (for files it decodes without
/// warnings). See the module docs for what is [`DcError::Unsupported`]; truncated entropy data
/// gives `DcError::Corrupt("truncated ...")` rather than zero padding.
pub fn decode_luma_dc(data: &[u8]) -> Result<DcImage, DcError> {
    let hdr = parse_header(data, false)?;
    let info = hdr.info;
    match info.process {
        Process::Baseline | Process::ExtendedHuffman => {}
        p => return Err(unsupported(format_args!("{p:?} JPEG"))),
    }
    match info.precision {
        8 => {}
        12 => return Err(unsupported("12-bit JPEG")),
        p => return Err(corrupt(format_args!("bad precision {p}"))),
    }
    let (w, h) = (info.width, info.height);
    if w == 0 || h == 0 {
        return Err(corrupt("empty image (DNL not supported)"));
    }
    if w > JPEG_MAX_DIMENSION || h > JPEG_MAX_DIMENSION || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(DcError::TooLarge { width: w, height: h });
    }
    let comps = &hdr.comps;
    if comps.len() > 10 {
        return Err(corrupt("too many components"));
    }
    if comps.iter().any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v)) {
        return Err(corrupt("bad sampling factors"));
    }
    // Colour space, as libjpeg's default_decompress_parms guesses it.
    match comps.len() {
        1 => {}
        3 => {
            let rgb = if hdr.saw_jfif {
                false
            } else if let Some(t) = hdr.adobe_transform {
                t == 0
            } else {
                comps[0].id == b'R' && comps[1].id == b'G' && comps[2].id == b'B'
            };
            if rgb {
                return Err(unsupported("RGB JPEG"));
            }
        }
        n => return Err(unsupported(format_args!("{n}-component JPEG"))),
    }
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let luma = comps[0];
    if comps.len() > 1 && (luma.h != hmax || luma.v != vmax) {
        return Err(unsupported("luma is subsampled relative to another component"));
    }
    let Some(luma_pos) = hdr.scan.iter().position(|s| s.0 == 0) else {
        return Err(unsupported("first scan does not contain the luma component"));
    };
    for &(ci, _, _) in &hdr.scan {
        let tq = usize::from(comps[ci].tq);
        if tq >= 4 || hdr.qdc[tq].is_none() {
            return Err(corrupt("missing quantization table"));
        }
    }
    // Quantizer as ISLOW_MULT_TYPE (short): 16-bit tables with values > 32767 wrap.
    let q0 = i32::from(hdr.qdc[usize::from(luma.tq)].unwrap_or(0) as i16);

    // Derived Huffman tables for the slots used by this scan.
    let mut dc_tabs: Vec<DcTable> = Vec::new();
    let mut ac_tabs: Vec<AcTable> = Vec::new();
    let mut dc_slot_map = [usize::MAX; 4];
    let mut ac_slot_map = [usize::MAX; 4];
    for &(_, td, ta) in &hdr.scan {
        let (td, ta) = (usize::from(td), usize::from(ta));
        if dc_slot_map[td] == usize::MAX {
            let raw = hdr.dc_tables[td].clone().or_else(|| std_table(false, td));
            let raw = raw.ok_or_else(|| corrupt("missing DC Huffman table"))?;
            dc_slot_map[td] = dc_tabs.len();
            dc_tabs.push(DcTable::new(&raw)?);
        }
        if ac_slot_map[ta] == usize::MAX {
            let raw = hdr.ac_tables[ta].clone().or_else(|| std_table(true, ta));
            let raw = raw.ok_or_else(|| corrupt("missing AC Huffman table"))?;
            ac_slot_map[ta] = ac_tabs.len();
            ac_tabs.push(AcTable::new(&raw)?);
        }
    }

    let bw = (w as usize).div_ceil(8);
    let bh = (h as usize).div_ceil(8);

    // MCU geometry and block list.
    let mut blocks = [BlockSpec::default(); MAX_BLOCKS_IN_MCU];
    let nblocks;
    let (mcus_x, mcus_y, lh, lv);
    if hdr.scan.len() == 1 {
        // Non-interleaved: one block per MCU over the component's own block grid; for luma
        // (full resolution) that is exactly the output grid.
        let (_, td, ta) = hdr.scan[0];
        blocks[0] = BlockSpec {
            scomp: 0,
            dc: dc_slot_map[usize::from(td)],
            ac: ac_slot_map[usize::from(ta)],
            luma: true,
            dx: 0,
            dy: 0,
        };
        nblocks = 1;
        (mcus_x, mcus_y, lh, lv) = (bw, bh, 1, 1);
    } else {
        let mut n = 0;
        for (si, &(ci, td, ta)) in hdr.scan.iter().enumerate() {
            let c = comps[ci];
            for by in 0..usize::from(c.v) {
                for bx in 0..usize::from(c.h) {
                    let slot = blocks.get_mut(n).ok_or_else(|| corrupt("too many blocks in MCU"))?;
                    *slot = BlockSpec {
                        scomp: si,
                        dc: dc_slot_map[usize::from(td)],
                        ac: ac_slot_map[usize::from(ta)],
                        luma: si == luma_pos,
                        dx: bx,
                        dy: by,
                    };
                    n += 1;
                }
            }
        }
        nblocks = n;
        mcus_x = (w as usize).div_ceil(8 * usize::from(hmax));
        mcus_y = (h as usize).div_ceil(8 * usize::from(vmax));
        (lh, lv) = (usize::from(luma.h), usize::from(luma.v));
    }
    let blocks = &blocks[..nblocks];

    let mut pixels = vec![0u8; bw * bh];
    let mut rd = BitReader::new(data, hdr.scan_start);
    let mut pred = [0i32; 4];
    let restart_interval = usize::from(hdr.restart_interval);
    let mut restarts_to_go = restart_interval;
    let mut next_rst: u8 = 0;

    for my in 0..mcus_y {
        for mx in 0..mcus_x {
            if restart_interval != 0 {
                if restarts_to_go == 0 {
                    rd.restart(next_rst)?;
                    next_rst = (next_rst + 1) & 7;
                    pred = [0; 4];
                    restarts_to_go = restart_interval;
                }
                restarts_to_go -= 1;
            }
            for b in blocks {
                let diff = rd.dc_diff(&dc_tabs[b.dc])?;
                if b.luma {
                    let p = &mut pred[b.scomp];
                    *p = p.wrapping_add(diff);
                    let x = mx * lh + b.dx;
                    let y = my * lv + b.dy;
                    if x < bw && y < bh {
                        pixels[y * bw + x] = dc_to_pixel(*p, q0);
                    }
                }
                rd.skip_ac(&ac_tabs[b.ac])?;
            }
        }
        if rd.overran() {
            return Err(corrupt("truncated entropy-coded segment"));
        }
    }
    Ok(DcImage { width: bw, height: bh, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the range-limit table built like libjpeg's prepare_range_limit_table.
    fn reference_pixel(dc: i32, q: u16) -> u8 {
        let mut simple = vec![0u8; 5 * 256 + 128];
        let base = 256; // table += MAXJSAMPLE + 1
        for i in 0..=255 {
            simple[base + i] = i as u8;
        }
        let post = base + 128;
        for i in 128..512 {
            simple[post + i] = 255;
        }
        for i in 512..(512 + 512 - 128) {
            simple[post + i] = 0;
        }
        for j in 0..128 {
            simple[post + 1024 - 128 + j] = simple[base + j];
        }
        let coef = dc as i16 as i32;
        let dcval = coef * (q as i16 as i32);
        let dcval = ((dcval as i64 + 4) >> 3) as i32;
        simple[post + (dcval & 1023) as usize]
    }

    #[test]
    fn pixel_mapping_matches_range_limit_table() {
        for dc in (-70000..70000).step_by(7) {
            for q in [1u16, 2, 3, 8, 16, 99, 255, 1000, 32767, 40000, 65535] {
                assert_eq!(dc_to_pixel(dc, q as i16 as i32), reference_pixel(dc, q), "dc={dc} q={q}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_luma_dc(&[]).is_err());
        assert!(decode_luma_dc(&[0xFF, 0xD8]).is_err());
        assert!(decode_luma_dc(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]).is_err());
        assert!(read_info(b"not a jpeg").is_err());
    }
}
