//! What a file is and when it was taken.
//!
//! Kinds are sniffed from magic bytes, never from the extension. Capture
//! dates come from embedded metadata in the order DESIGN.md gives, then the
//! file name, then mtime.

use std::path::{Path, PathBuf};

pub mod avcodec;
pub mod bmff;
pub mod capture;
pub mod compress;
pub mod container;
pub mod date;
pub mod decode;
pub mod exif;
pub mod ffmpeg;
pub mod gps;
pub mod heif;
pub mod iptc;
pub mod jp2;
pub mod jpeg;
pub mod jpeg_dc;
pub mod jxl;
pub mod motion;
pub mod oldraw;
pub mod raw;
pub mod sidecar;
pub mod sniff;
pub mod textdate;
pub mod thumb;
pub mod vendor;
pub mod xmp;

use std::fs::File;
use std::io::Read;

use chrono::{FixedOffset, NaiveDateTime};

pub use date::{CaptureDate, DateSource};
pub use sidecar::sidecar_date;
pub use sniff::sniff_bytes;

/// Errors reading a media file. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: file is empty (0 bytes)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The content does not match what the name claims, or is not media.
    #[error("{path}: {reason}")]
    NotMedia {
        /// The file.
        path: PathBuf,
        /// Why, in words: what the content is instead, or why it cannot be decoded.
        reason: String,
    },
    /// The file is media but damaged (truncated, corrupt structure).
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is damaged, as the parser or decoder tells it.
        reason: String,
    },
    /// It could not be reached safely: a link on the way, not a regular
    /// file (a FIFO, a device), or replaced since it was read.
    #[error(transparent)]
    Fs(#[from] crate::fsops::FsError),
}

/// A media kind, sniffed from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// JPEG image (starts `FF D8 FF`).
    Jpeg,
    /// PNG image.
    Png,
    /// GIF image (GIF87a or GIF89a).
    Gif,
    /// Windows bitmap (BMP).
    Bmp,
    /// TIFF image that is not one of the TIFF-based RAW kinds.
    Tiff,
    /// WebP image (RIFF).
    Webp,
    /// HEIF image, HEIC included (ISO-BMFF).
    Heif,
    /// AVIF image (ISO-BMFF).
    Avif,
    /// JPEG XL image (bare codestream or ISO-BMFF container).
    Jxl,
    /// JPEG 2000 image (JP2 boxes or a bare J2K codestream).
    Jp2,
    /// Fujifilm RAF.
    Raf,
    /// Canon CR2 (TIFF-based).
    Cr2,
    /// Canon CR3 (ISO-BMFF based).
    Cr3,
    /// Nikon NEF (TIFF-based).
    Nef,
    /// Sony ARW (TIFF-based).
    Arw,
    /// Adobe DNG (TIFF-based).
    Dng,
    /// Panasonic RW2 (TIFF-like).
    Rw2,
    /// Olympus ORF (TIFF-like).
    Orf,
    /// Canon CRW (CIFF).
    Crw,
    /// Minolta MRW.
    Mrw,
    /// Sigma X3F.
    X3f,
    /// MP4 / M4V (ISO-BMFF).
    Mp4,
    /// QuickTime MOV.
    Mov,
    /// 3GPP / 3GPP2 (ISO-BMFF).
    ThreeGp,
    /// Matroska / WebM.
    Matroska,
    /// AVCHD / MPEG transport stream (.mts, .m2ts).
    M2ts,
    /// AVI (RIFF).
    Avi,
    /// Windows Media (ASF).
    Asf,
    /// Flash video.
    Flv,
}

impl Kind {
    /// True for video containers.
    pub fn is_video(self) -> bool {
        matches!(
            self,
            Kind::Mp4 | Kind::Mov | Kind::ThreeGp | Kind::Matroska | Kind::M2ts | Kind::Avi | Kind::Asf | Kind::Flv
        )
    }

    /// True for camera RAW formats.
    pub fn is_raw(self) -> bool {
        matches!(
            self,
            Kind::Raf
                | Kind::Cr2
                | Kind::Cr3
                | Kind::Nef
                | Kind::Arw
                | Kind::Dng
                | Kind::Rw2
                | Kind::Orf
                | Kind::Crw
                | Kind::Mrw
                | Kind::X3f
        )
    }

    /// Every kind.
    pub const ALL: [Kind; 29] = [
        Kind::Jpeg,
        Kind::Png,
        Kind::Gif,
        Kind::Bmp,
        Kind::Tiff,
        Kind::Webp,
        Kind::Heif,
        Kind::Avif,
        Kind::Jxl,
        Kind::Jp2,
        Kind::Raf,
        Kind::Cr2,
        Kind::Cr3,
        Kind::Nef,
        Kind::Arw,
        Kind::Dng,
        Kind::Rw2,
        Kind::Orf,
        Kind::Crw,
        Kind::Mrw,
        Kind::X3f,
        Kind::Mp4,
        Kind::Mov,
        Kind::ThreeGp,
        Kind::Matroska,
        Kind::M2ts,
        Kind::Avi,
        Kind::Asf,
        Kind::Flv,
    ];

    /// The kind with this [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How much a copy in this format is worth keeping over another of the
    /// same pixels: RAW over lossless or modern (HEIC, PNG, ...) over JPEG.
    pub fn keeper_rank(self) -> u8 {
        if self.is_raw() {
            3
        } else if matches!(self, Kind::Heif | Kind::Avif | Kind::Jxl | Kind::Jp2 | Kind::Png | Kind::Tiff | Kind::Webp)
        {
            2
        } else {
            1
        }
    }

    /// Short lowercase name ("jpeg", "heif", "mov", ...), as stored in the index.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Gif => "gif",
            Kind::Bmp => "bmp",
            Kind::Tiff => "tiff",
            Kind::Webp => "webp",
            Kind::Heif => "heif",
            Kind::Avif => "avif",
            Kind::Jxl => "jxl",
            Kind::Jp2 => "jp2",
            Kind::Raf => "raf",
            Kind::Cr2 => "cr2",
            Kind::Cr3 => "cr3",
            Kind::Nef => "nef",
            Kind::Arw => "arw",
            Kind::Dng => "dng",
            Kind::Rw2 => "rw2",
            Kind::Orf => "orf",
            Kind::Crw => "crw",
            Kind::Mrw => "mrw",
            Kind::X3f => "x3f",
            Kind::Mp4 => "mp4",
            Kind::Mov => "mov",
            Kind::ThreeGp => "3gp",
            Kind::Matroska => "matroska",
            Kind::M2ts => "m2ts",
            Kind::Avi => "avi",
            Kind::Asf => "asf",
            Kind::Flv => "flv",
        }
    }
}

/// What `probe` learns about a media file.
#[derive(Debug, Clone)]
pub struct MediaInfo {
    /// The sniffed kind.
    pub kind: Kind,
    /// When it was taken, and which source said so.
    pub taken: CaptureDate,
    /// Camera model for the `{camera}` layout field ("Apple iPhone 13 Pro Max"), if recorded.
    pub camera: Option<String>,
    /// What tells this shot from the camera's others (photos only).
    pub capture: capture::Capture,
    /// The video inside, for a Google or Samsung motion photo (JPEG or HEIC).
    pub motion: Option<motion::Motion>,
}

/// Extensions we treat as media: a file named so whose content is something
/// else is an error, not a silently skipped "non-media" file.
const MEDIA_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "heif", "hif", "avif", "jxl",
    "jp2", "j2k", "jpf", "jpx", "raf", "crw", "mrw", "x3f", "cr2", "cr3", "nef", "nrw", "arw", "srf", "sr2", "dng",
    "rw2", "orf", "pef", "srw", "mp4", "m4v", "mov", "qt", "3gp", "3g2", "mkv", "webm", "mts", "m2ts", "ts", "avi",
    "wmv", "asf", "flv",
];

/// True if the file name has an extension we treat as media (jpg, heic, mov, ...).
pub fn looks_like_media_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.iter().any(|m| m.eq_ignore_ascii_case(e)))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> MediaError + '_ {
    move |source| MediaError::Io { path: path.to_path_buf(), source }
}

fn read_head(file: &mut File, path: &Path) -> Result<Vec<u8>, MediaError> {
    let mut head = Vec::with_capacity(sniff::HEAD_LEN);
    file.take(sniff::HEAD_LEN as u64).read_to_end(&mut head).map_err(io_error(path))?;
    Ok(head)
}

/// Opens a file to read it: no link at any component, regular files only
/// (a FIFO is refused at once, not waited on). Everything here reads
/// through the descriptor this returns, so what is read is one file.
pub fn open(path: &Path) -> Result<crate::fsops::Opened, MediaError> {
    crate::fsops::open_file(path).map_err(|e| match e {
        crate::fsops::FsError::Io { source, .. } => MediaError::Io { path: path.to_path_buf(), source },
        other => MediaError::Fs(other),
    })
}

/// Reads a file's head and sniffs its kind. `Ok(None)` = readable, not media.
pub fn sniff(path: &Path) -> Result<Option<Kind>, MediaError> {
    let mut file = open(path)?.file;
    Ok(sniff_bytes(&read_head(&mut file, path)?))
}

/// Sniffs, checks the file is whole, and reads its capture date and camera.
///
/// Errors: unreadable, empty, a media extension whose content is something
/// else (a PDF named .jpg), or a damaged file (a truncated JPEG, a movie
/// without its header). A readable file that is not media and not named
/// like media gives `MediaError::NotMedia` too; callers tell the two apart
/// with [`looks_like_media_name`].
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    probe_opened(&mut open(path)?, path)
}

/// [`probe`] of a file already opened with [`open`] (`path` names it in
/// messages and gives the file-name date).
pub fn probe_opened(opened: &mut crate::fsops::Opened, path: &Path) -> Result<MediaInfo, MediaError> {
    probe_whole(opened, path, false).map(|(info, _)| info)
}

/// What [`inspect`] learns of a file from one read of its bytes.
#[derive(Debug)]
pub struct Inspection {
    /// Kind, capture date, camera, what tells the shot apart.
    pub info: MediaInfo,
    /// Size and blake3 of the bytes read.
    pub fingerprint: crate::fsops::Fingerprint,
    /// The whole file, when it was read into memory (a picture to hash).
    pub data: Option<Vec<u8>>,
}

/// One pass over an opened file: kind, damage check, capture date and
/// blake3, with the bytes themselves when `pixels` (a picture to be
/// pHashed) — the file's content is read once. A JPEG is read whole by its
/// damage check, and those bytes give the fingerprint and the pixels; any
/// other picture wanted for its pixels is read whole once; a video (or a
/// picture not wanted for its pixels) is hashed as it streams by. Only the
/// small reads of headers (EXIF, XMP, movie boxes) come on top.
pub fn inspect(opened: &mut crate::fsops::Opened, path: &Path, pixels: bool) -> Result<Inspection, MediaError> {
    let (info, whole) = probe_whole(opened, path, pixels)?;
    let wants = pixels && !info.kind.is_video() && decode::can_decode(info.kind);
    let data = match whole {
        Some(d) if wants || d.len() as u64 == opened.meta.len() => Some(d),
        _ if wants => Some(read_all(&mut opened.file, path)?),
        _ => None,
    };
    let fingerprint = match &data {
        Some(d) => crate::fsops::Fingerprint::of(d),
        None => crate::fsops::fingerprint_file(&mut opened.file, path)?,
    };
    Ok(Inspection { info, fingerprint, data: data.filter(|_| wants) })
}

/// [`probe_opened`], with the whole file when the probe read it whole: a
/// JPEG always (its damage check), a HEIF when `keep` (its pixels are
/// wanted: its motion-photo check reads from those bytes, not the file).
fn probe_whole(
    opened: &mut crate::fsops::Opened,
    path: &Path,
    keep: bool,
) -> Result<(MediaInfo, Option<Vec<u8>>), MediaError> {
    use std::io::{Seek, SeekFrom};
    let meta = opened.meta.clone();
    let file = &mut opened.file;
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let len = meta.len();
    if len == 0 {
        return Err(MediaError::Empty { path: path.to_path_buf() });
    }
    let head = read_head(file, path)?;
    let Some(mut kind) = sniff_bytes(&head) else {
        let what = sniff::describe(&head);
        let reason = match path.extension().filter(|_| looks_like_media_name(path)) {
            Some(ext) => format!(
                "named .{} but the content is {what}, not a photo or video; left in place",
                ext.to_string_lossy()
            ),
            None => format!("not a photo or video ({what})"),
        };
        return Err(MediaError::NotMedia { path: path.to_path_buf(), reason });
    };
    let corrupt = |reason: String| MediaError::Corrupt { path: path.to_path_buf(), reason };
    // A JPEG is read whole to check it; its vendor segments are read from that too.
    let mut whole_jpeg: Option<Vec<u8>> = None;
    let mut motion = None;
    if kind == Kind::Jpeg {
        let mut data = head.clone();
        file.read_to_end(&mut data).map_err(io_error(path))?;
        if let Some(why) = jpeg::damage(&data) {
            return Err(corrupt(format!("JPEG {why}; left in place")));
        }
        motion = motion::detect(&data, kind);
        whole_jpeg = Some(data);
    } else if kind == Kind::Heif && keep {
        let data = read_all(file, path)?;
        motion = motion::detect(&data, kind);
        whole_jpeg = Some(data);
    } else if kind == Kind::Heif {
        motion = motion::detect_file(file, len, kind);
    }

    let exif = exif::read(file, kind, len).unwrap_or_default();
    if kind == Kind::Tiff {
        kind = refine_tiff(&exif);
    }
    let camera = exif.camera();
    let found = |local: NaiveDateTime, offset: Option<FixedOffset>, source| CaptureDate::local(local, offset, source);
    let utc = CaptureDate::utc;
    // A movie's header: its dates, the Live Photo it belongs to, where it was recorded.
    let movie = match kind {
        Kind::Mp4 | Kind::Mov | Kind::ThreeGp => match bmff::movie_dates(file, len).map_err(io_error(path))? {
            Some(m) => Some(m),
            None => {
                return Err(corrupt(
                    "has no movie header (moov box): the video is incomplete or still being written; left in place"
                        .into(),
                ))
            }
        },
        _ => None,
    };
    let mut taken = exif.original.map(|(t, o)| found(t, o, DateSource::Exif));
    if taken.is_none() && !kind.is_video() {
        let head = read_prefix(file, path, 1 << 20)?;
        taken = xmp::xmp_date(&head).map(|(t, o)| CaptureDate {
            utc_only: o.is_some_and(|o| o.local_minus_utc() == 0),
            ..found(t, o, DateSource::Xmp)
        });
    }
    taken = taken.or_else(|| exif.create.map(|(t, o)| found(t, o, DateSource::ExifCreate)));
    taken = taken.or_else(|| exif.gps_time.map(|t| utc(t, DateSource::GpsDatetime)));
    if taken.is_none() && !kind.is_video() {
        let head = read_prefix(file, path, 1 << 20)?;
        taken = iptc::iptc_date(&head).map(|(t, o)| found(t, o, DateSource::Iptc));
        if kind == Kind::Png {
            taken = taken.or_else(|| textdate::png_creation_time(&head).map(|(t, o)| found(t, o, DateSource::PngText)));
        }
        let vendor = exif
            .maker_date
            .map(|t| (t, None))
            .or_else(|| whole_jpeg.as_deref().filter(|_| kind == Kind::Jpeg).and_then(vendor::jpeg_vendor_date));
        taken = taken.or_else(|| vendor.map(|(t, o)| found(t, o, DateSource::MakerNote)));
    }
    if taken.is_none() {
        taken = match kind {
            Kind::Mp4 | Kind::Mov | Kind::ThreeGp => movie.as_ref().and_then(|m| {
                m.apple_creation
                    .or(m.day)
                    .map(|(t, o)| found(t, o, DateSource::Quicktime))
                    .or_else(|| m.mvhd_utc.map(|t| utc(t, DateSource::Mvhd)))
            }),
            Kind::Matroska => {
                let head = read_prefix(file, path, 1 << 20)?;
                container::matroska_date(&head).map(|t| utc(t, DateSource::Container))
            }
            Kind::M2ts => {
                let head = read_prefix(file, path, 4 << 20)?;
                container::avchd_date(&head).map(|(t, o)| found(t, o, DateSource::Container))
            }
            Kind::Avi => {
                let head = read_prefix(file, path, 64 << 10)?;
                textdate::avi_idit(&head).map(|(t, o)| found(t, o, DateSource::Container))
            }
            _ => None,
        };
    }
    // Sidecars when the file has no date, or no offset and no GPS (Takeout's geoData may give one).
    let mut position = exif.gps.or_else(|| movie.as_ref().and_then(|m| m.location));
    if taken.is_none_or(|t| (t.offset.is_none() || t.utc_only) && position.is_none()) {
        if let Some(side) = sidecar_date(path) {
            position = position.or(side.gps);
            taken = taken.or(Some(side.date));
        }
    }
    let taken = match taken {
        Some(t) => t,
        None => name_or_mtime(path, &meta),
    };
    // No offset recorded: the zone at the GPS position gives it (never for mtime, which has the machine's).
    let taken = if taken.source == DateSource::Mtime { taken } else { gps::localize(taken, position) };
    let mut capture = exif.capture;
    if let Some(id) = movie.and_then(|m| m.content_id) {
        capture.live = Some(id);
    }
    if !kind.is_video() && capture.burst.is_none() {
        let head = read_prefix(file, path, 64 << 10)?;
        capture.burst = capture::xmp_burst_id(&head);
    }
    Ok((MediaInfo { kind, taken, camera, capture, motion }, whole_jpeg))
}

/// The whole content of an open file, from its start.
pub fn read_all(file: &mut File, path: &Path) -> Result<Vec<u8>, MediaError> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(io_error(path))?;
    Ok(data)
}

fn read_prefix(file: &mut File, path: &Path, max: u64) -> Result<Vec<u8>, MediaError> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut buf = Vec::new();
    file.take(max).read_to_end(&mut buf).map_err(io_error(path))?;
    Ok(buf)
}

/// TIFF-based RAW files share TIFF's magic; the make and DNGVersion tell them apart.
fn refine_tiff(exif: &exif::ExifFields) -> Kind {
    let make = exif.make.as_deref().unwrap_or("").to_ascii_uppercase();
    if exif.dng {
        Kind::Dng
    } else if make.starts_with("NIKON") {
        Kind::Nef
    } else if make.starts_with("SONY") {
        Kind::Arw
    } else {
        Kind::Tiff
    }
}

/// The last resorts: a date in the file name, else the file's mtime in the
/// machine's local time.
fn name_or_mtime(path: &Path, meta: &std::fs::Metadata) -> CaptureDate {
    if let Some(t) = path.file_name().and_then(|n| date::date_from_name(&n.to_string_lossy())) {
        return CaptureDate::local(t, None, DateSource::Filename);
    }
    let mtime = meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let local: chrono::DateTime<chrono::Local> = mtime.into();
    CaptureDate::local(local.naive_local(), Some(*local.offset()), DateSource::Mtime)
}

/// An image's perceptual hash and upright size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHash {
    /// The pHash.
    pub phash: crate::phash::PHash,
    /// Upright width in pixels.
    pub width: u32,
    /// Upright height in pixels.
    pub height: u32,
    /// Nearly uniform (blank): its pHash must not be used to match ([`crate::phash::is_flat`]).
    pub flat: bool,
    /// The second look at the picture ([`crate::phash::second_32`]).
    pub second: crate::phash::PHash,
}

/// Hashes an image file already sniffed as `kind`.
pub fn image_hash(path: &Path, kind: Kind) -> Result<ImageHash, MediaError> {
    let data = read_all(&mut open(path)?.file, path)?;
    image_hash_bytes(path, &data, kind)
}

/// Hashes an image already read into memory (`path` names it in messages).
pub fn image_hash_bytes(path: &Path, data: &[u8], kind: Kind) -> Result<ImageHash, MediaError> {
    let d = decode::load_gray_bytes(path, data, kind)?;
    let h = crate::phash::hashes(&d.gray);
    Ok(ImageHash { phash: h.phash, width: d.width, height: d.height, flat: h.flat, second: h.second })
}

/// Whether two image files hold the same pixels: the same size, and every
/// channel of every pixel within 2 levels of the other's (a lossless
/// re-save of a decoded JPEG, as Pillow's PNG of a camera JPEG is, differs
/// by decoder rounding at most). `Ok(false)` for kinds not decoded here.
pub fn same_pixels(a: &Path, b: &Path) -> Result<bool, MediaError> {
    let (Some(pa), Some(pb)) = (rgb_pixels(a)?, rgb_pixels(b)?) else { return Ok(false) };
    if (pa.0, pa.1) != (pb.0, pb.1) || pa.2.len() != pb.2.len() {
        return Ok(false);
    }
    Ok(pa.2.iter().zip(&pb.2).all(|(x, y)| x.abs_diff(*y) <= 2))
}

/// An image's stored pixels as RGB: (width, height, bytes).
fn rgb_pixels(path: &Path) -> Result<Option<(u32, u32, Vec<u8>)>, MediaError> {
    let mut opened = open(path)?;
    let data = read_all(&mut opened.file, path)?;
    let kind = sniff::sniff_bytes(&data);
    let corrupt = |e: String| MediaError::Corrupt { path: path.to_path_buf(), reason: e };
    let format = match kind {
        Some(Kind::Jpeg) => {
            let img = turbojpeg::decompress(&data, turbojpeg::PixelFormat::RGB).map_err(|e| corrupt(e.to_string()))?;
            return Ok(Some((img.width as u32, img.height as u32, img.pixels)));
        }
        Some(Kind::Png) => image::ImageFormat::Png,
        Some(Kind::Webp) => image::ImageFormat::WebP,
        Some(Kind::Tiff) => image::ImageFormat::Tiff,
        Some(Kind::Bmp) => image::ImageFormat::Bmp,
        Some(Kind::Gif) => image::ImageFormat::Gif,
        _ => return Ok(None),
    };
    let img = image::load_from_memory_with_format(&data, format).map_err(|e| corrupt(e.to_string()))?.to_rgb8();
    Ok(Some((img.width(), img.height(), img.into_raw())))
}

/// The perceptual hash of an image file: sniff, decode upright, hash.
pub fn perceptual_hash(path: &Path) -> Result<crate::phash::PHash, MediaError> {
    let kind = sniff(path)?
        .ok_or_else(|| MediaError::NotMedia { path: path.to_path_buf(), reason: "not a photo or video".into() })?;
    Ok(image_hash(path, kind)?.phash)
}
