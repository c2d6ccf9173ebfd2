//! What a file is and when it was taken.
//!
//! Kinds are sniffed from magic bytes, never from the extension. Capture
//! dates come from embedded metadata in the order DESIGN.md gives, then the
//! file name, then mtime.

use std::path::{Path, PathBuf};

pub mod date;

pub use date::{CaptureDate, DateSource};

/// Errors reading a media file. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: file is empty (0 bytes)")]
    Empty { path: PathBuf },
    /// The content does not match what the name claims, or is not media.
    #[error("{path}: {reason}")]
    NotMedia { path: PathBuf, reason: String },
    /// The file is media but damaged (truncated, corrupt structure).
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// A media kind, sniffed from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Tiff,
    Webp,
    Heif,
    Avif,
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
            Kind::Raf | Kind::Cr2 | Kind::Cr3 | Kind::Nef | Kind::Arw | Kind::Dng | Kind::Rw2 | Kind::Orf
        )
    }

    /// Short lowercase name ("jpeg", "heif", "mov", ...), as stored in the index.
    pub fn name(self) -> &'static str {
        todo!("media helper")
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
}

/// Sniffs the kind from the first bytes of a file (at least 64 are best).
/// `None` means "not a media kind we handle".
pub fn sniff_bytes(head: &[u8]) -> Option<Kind> {
    let _ = head;
    todo!("media helper")
}

/// Reads a file's head and sniffs its kind. `Ok(None)` = readable, not media.
pub fn sniff(path: &Path) -> Result<Option<Kind>, MediaError> {
    let _ = path;
    todo!("media helper")
}

/// Sniffs, checks the file is whole, and reads its capture date and camera.
///
/// Errors: unreadable, empty, a media extension whose content is something
/// else (a PDF named .jpg), or a damaged file (a truncated JPEG).
/// A readable file that is not media and not named like media gives
/// `MediaError::NotMedia` too; callers tell the two apart with [`looks_like_media_name`].
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let _ = path;
    todo!("media helper")
}

/// True if the file name has an extension we treat as media (jpg, heic, mov, ...).
pub fn looks_like_media_name(path: &Path) -> bool {
    let _ = path;
    todo!("media helper")
}
