//! Video re-encoding through the system `ffmpeg`: H.264 (libx264) + AAC,
//! `+faststart`, metadata (creation_time, Apple keys) copied. ffmpeg turns
//! the pixels by the rotation tag as it decodes and writes the result
//! upright, so a rotated clip plays the same way round as before.

use std::path::Path;
use std::process::{Command, Stdio};

/// How to install ffmpeg, for the error when it is missing.
pub const INSTALL_HINT: &str = "install it with `sudo apt-get install ffmpeg` (macOS: `brew install ffmpeg`)";

/// Why a video could not be re-encoded.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    /// No `ffmpeg` on PATH.
    #[error("ffmpeg is not installed, so videos are copied as they are; {INSTALL_HINT}")]
    Missing,
    /// ffmpeg ran and failed.
    #[error("ffmpeg failed: {0}")]
    Failed(String),
}

/// Whether `ffmpeg` can be run.
pub fn available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The ffmpeg muxer for a container we re-encode into the same container,
/// or `None` for containers kept as they are.
pub fn muxer_for(kind: super::Kind) -> Option<&'static str> {
    match kind {
        super::Kind::Mp4 => Some("mp4"),
        super::Kind::Mov => Some("mov"),
        super::Kind::ThreeGp => Some("3gp"),
        _ => None,
    }
}

/// Re-encodes `input` into `output` (which must not exist) with `muxer`, at
/// CRF `crf`, using `threads` encoder threads (0: ffmpeg decides).
pub fn transcode(input: &Path, output: &Path, muxer: &str, crf: u8, threads: usize) -> Result<(), FfmpegError> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-n", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-map", "0:a?", "-map_metadata", "0"])
        .args(["-c:v", "libx264", "-preset", "medium", "-crf", &crf.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "160k"])
        .args(["-threads", &threads.to_string()])
        .args(["-movflags", "+faststart+use_metadata_tags", "-f", muxer])
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FfmpegError::Missing
            } else {
                FfmpegError::Failed(e.to_string())
            }
        })?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
    Err(FfmpegError::Failed(last.trim().to_string()))
}
