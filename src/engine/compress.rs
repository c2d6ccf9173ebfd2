//! `compress SRC DEST`: a compressed copy of every image and video under SRC
//! at the same relative path under DEST. Originals are only read.
//!
//! Never worse: a result that is not smaller is replaced by a copy of the
//! original bytes ("kept"), as are kinds we do not re-encode (HEIC/AVIF,
//! RAW, GIF, WebP; BMP/TIFF unless `convert`; motion photos, JPEG or
//! HEIC, even with `to_jpeg`: their video would be lost). A file that cannot be read
//! is reported and copied as it is, so DEST is always complete. Images run
//! on all cores (rayon); videos on half as many ffmpeg processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;

use super::scan::Found;
use super::EngineError;
use crate::fsops;
use crate::media::compress::{self as codec, Level, Recompressed};
use crate::media::{ffmpeg, Kind};

/// What to compress, where, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompressOptions {
    /// The folder to read (recursively).
    pub src: PathBuf,
    /// Where the compressed copies go, at the same relative paths.
    pub dest: PathBuf,
    /// 1 (high quality), 2 (balanced) or 3 (maximum).
    pub level: Level,
    /// Compress images.
    pub images: bool,
    /// Compress videos.
    pub videos: bool,
    /// Re-encode JPEGs already at or below the target quality.
    pub force: bool,
    /// Convert BMP and TIFF to PNG (lossless).
    pub convert: bool,
    /// Convert HEIC/HEIF and still GIFs to JPEG at the level's quality, for
    /// devices that cannot show HEIC (done when asked even if the JPEG is bigger).
    #[serde(default)]
    pub to_jpeg: bool,
    /// Parallel workers for images (videos use half); `None`: all cores.
    pub jobs: Option<usize>,
    /// The rights of the caller the daemon runs this for (never sent: the
    /// daemon sets it from the caller's credentials).
    #[serde(skip)]
    pub access: Option<crate::access::Access>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompressOutcome {
    /// Re-encoded smaller.
    Compressed,
    /// Converted to another format (BMP/TIFF → PNG).
    Converted,
    /// The original bytes copied (not smaller, already compressed, a kind kept as is).
    Kept,
    /// Not an image or video, or a kind not selected: not copied.
    Skipped,
    /// Could not be handled; the original was copied if it could be, with the reason.
    Error,
}

/// The report for one file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompressEvent {
    /// The original.
    #[serde(serialize_with = "super::lossy")]
    pub path: PathBuf,
    /// The copy written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// What happened.
    pub outcome: CompressOutcome,
    /// "image", "video" or "other".
    #[serde(deserialize_with = "super::static_name_req")]
    pub kind: super::Name,
    /// The original's size.
    pub before: u64,
    /// The copy's size (0 when none was written).
    pub after: u64,
    /// Why it was kept, skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Kept because of its kind ("heif", "raw", "gif", ...), not for its content.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::static_name")]
    pub kept_kind: Option<super::Name>,
}

/// The end-of-job summary.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CompressSummary {
    /// Images and videos handled (compressed, converted, kept or failed).
    pub processed: u64,
    /// Of which images.
    pub images: u64,
    /// Of which videos.
    pub videos: u64,
    /// Re-encoded smaller (or converted).
    pub compressed: u64,
    /// Copied as they were.
    pub kept: u64,
    /// Kept because of their kind, by kind name ("heif", "raw", "gif", ...): not converted.
    pub kept_kinds: BTreeMap<String, u64>,
    /// Files that failed.
    pub errors: u64,
    /// Non-media files and kinds not selected: not copied.
    pub skipped: u64,
    /// Bytes of the originals processed.
    pub original_bytes: u64,
    /// Bytes written to DEST for them.
    pub compressed_bytes: u64,
    /// original - compressed.
    pub saved_bytes: u64,
    /// saved / original, in percent.
    pub saved_percent: f64,
    /// Videos were found but ffmpeg is not installed.
    pub ffmpeg_missing: bool,
    /// Sidecars (`.xmp`, `.aae`, Takeout `.json`) copied beside their
    /// photo's copy, under its new name.
    #[serde(default)]
    pub sidecars: u64,
}

impl CompressSummary {
    fn add(&mut self, ev: &CompressEvent) {
        if ev.kind == "sidecar" {
            match ev.outcome {
                CompressOutcome::Error => self.errors += 1,
                _ => self.sidecars += 1,
            }
            return;
        }
        match ev.outcome {
            CompressOutcome::Skipped => {
                self.skipped += 1;
                return;
            }
            CompressOutcome::Compressed | CompressOutcome::Converted => self.compressed += 1,
            CompressOutcome::Kept => {
                self.kept += 1;
                if let Some(k) = ev.kept_kind {
                    *self.kept_kinds.entry(k.to_string()).or_insert(0) += 1;
                }
            }
            CompressOutcome::Error => self.errors += 1,
        }
        self.processed += 1;
        match ev.kind {
            "image" => self.images += 1,
            "video" => self.videos += 1,
            _ => {}
        }
        self.original_bytes += ev.before;
        self.compressed_bytes += ev.after;
        self.saved_bytes = self.original_bytes.saturating_sub(self.compressed_bytes);
        self.saved_percent = if self.original_bytes == 0 {
            0.0
        } else {
            (self.saved_bytes as f64 * 1000.0 / self.original_bytes as f64).round() / 10.0
        };
    }
}

/// A progress event of a compress job.
#[derive(Debug, Clone)]
pub enum CompressProgress {
    /// This many images and videos will be handled.
    Found {
        /// Count of `File` events to come for media.
        total: u64,
    },
    /// One file was handled (or skipped).
    File(CompressEvent),
}

/// A file to handle, with its kind.
struct Job {
    path: PathBuf,
    target: PathBuf,
    kind: Kind,
}

/// Runs a compress job. Per-file problems are events; only usage errors
/// (bad paths) return `Err`.
pub fn compress(
    opts: &CompressOptions,
    on_event: &mut (dyn FnMut(&CompressProgress) + Send),
) -> Result<CompressSummary, EngineError> {
    let meta = std::fs::metadata(&opts.src).map_err(|_| EngineError::MissingSource(opts.src.clone()))?;
    if !meta.is_dir() {
        return Err(EngineError::SourceNotDir(opts.src.clone()));
    }
    let src = fsops::canonical_lenient(&opts.src)?;
    let dest = fsops::canonical_lenient(&opts.dest)?;
    if dest.starts_with(&src) || src.starts_with(&dest) {
        return Err(EngineError::DestInsideSource { src, dest });
    }
    let mut summary = CompressSummary::default();
    let mut emit = |ev: CompressEvent, summary: &mut CompressSummary| {
        if ev.outcome != CompressOutcome::Skipped || ev.kind != "found" {
            summary.add(&ev);
        }
        on_event(&match ev.kind {
            "found" => CompressProgress::Found { total: ev.before },
            _ => CompressProgress::File(ev),
        });
    };

    let (mut images, mut videos, mut sidecars) = (Vec::new(), Vec::new(), Vec::new());
    for found in super::scan::scan_as(&src, opts.access.as_ref()) {
        let path = match found {
            Found::File(p) => p,
            Found::Skipped(..) => continue,
            Found::Error(p, why) => {
                emit(event(&p, None, CompressOutcome::Error, "other", 0, 0, Some(why)), &mut summary);
                continue;
            }
        };
        let rel = path.strip_prefix(&src).unwrap_or(&path).to_path_buf();
        let kind = match crate::media::sniff(&path) {
            Ok(Some(k)) => k,
            Ok(None) if super::assets::sidecar_role(&path).is_some() => {
                sidecars.push(path);
                continue;
            }
            Ok(None) => {
                emit(skipped(&path, "not an image or video"), &mut summary);
                continue;
            }
            Err(e) => {
                emit(event(&path, None, CompressOutcome::Error, "other", 0, 0, Some(e.to_string())), &mut summary);
                continue;
            }
        };
        let job = Job { path, target: dest.join(rel), kind };
        if kind.is_video() {
            if opts.videos {
                videos.push(job);
            } else {
                emit(skipped(&job.path, "a video (--images only)"), &mut summary);
            }
        } else if opts.images {
            images.push(job);
        } else {
            emit(skipped(&job.path, "an image (--videos only)"), &mut summary);
        }
    }

    let total = (images.len() + videos.len()) as u64;
    emit(event(&src, None, CompressOutcome::Skipped, "found", total, 0, None), &mut summary);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let image_workers = opts.jobs.unwrap_or(cores).max(1);
    let video_workers = opts.jobs.unwrap_or(cores / 2).max(1);
    let has_ffmpeg = videos.is_empty() || ffmpeg::available();
    summary.ffmpeg_missing = !has_ffmpeg;
    // Where each media file's copy went, for its sidecars.
    let mut copies: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    let (tx, rx) = mpsc::channel::<CompressEvent>();
    std::thread::scope(|s| {
        let tx_images = tx.clone();
        let images = &images;
        s.spawn(move || {
            run_pool(image_workers, || {
                images.par_iter().for_each_with(tx_images, |tx, job| {
                    let _ = tx.send(compress_image(job, opts));
                })
            })
        });
        let videos = &videos;
        s.spawn(move || {
            // Each ffmpeg gets a fair share of the cores.
            let threads = (cores / video_workers).max(1);
            run_pool(video_workers, || {
                videos.par_iter().for_each_with(tx, |tx, job| {
                    let _ = tx.send(compress_video(job, opts, has_ffmpeg, threads));
                })
            })
        });
        for ev in rx {
            if let Some(d) = &ev.dest {
                copies.insert(ev.path.clone(), PathBuf::from(d));
            }
            emit(ev, &mut summary);
        }
    });
    for side in sidecars {
        emit(copy_sidecar(&side, &src, &dest, &images, &videos, &copies), &mut summary);
    }
    Ok(summary)
}

/// Copies a sidecar beside its photo's copy, under the copy's name
/// (`IMG_1.HEIC.xmp` beside `IMG_1.jpg` becomes `IMG_1.jpg.xmp`), or, with
/// no photo of its own copied, at its own relative path.
fn copy_sidecar(
    side: &Path,
    src: &Path,
    dest: &Path,
    images: &[Job],
    videos: &[Job],
    copies: &BTreeMap<PathBuf, PathBuf>,
) -> CompressEvent {
    use super::assets::{member_name, primary_of_sidecar, sidecar_role};
    let folder = side.parent().unwrap_or(src);
    let media: Vec<(usize, String, Kind)> = images
        .iter()
        .chain(videos)
        .filter(|j| j.path.parent() == Some(folder))
        .enumerate()
        .filter_map(|(i, j)| Some((i, j.path.file_name()?.to_string_lossy().into_owned(), j.kind)))
        .collect();
    let jobs: Vec<&Job> = images.iter().chain(videos).filter(|j| j.path.parent() == Some(folder)).collect();
    let name = side.file_name().unwrap_or_default();
    let primary = sidecar_role(side)
        .and_then(|role| primary_of_sidecar(&name.to_string_lossy(), role, &media))
        .and_then(|i| jobs.get(i))
        .and_then(|j| Some((j, copies.get(&j.path)?)));
    let (target, reason) = match primary {
        Some((job, copy)) => {
            let to = member_name(name, job.path.file_name().unwrap_or_default(), copy.file_name().unwrap_or_default());
            (copy.with_file_name(to), format!("with {}", job.path.display()))
        }
        None => (dest.join(side.strip_prefix(src).unwrap_or(side)), "its photo was not copied".to_string()),
    };
    let before = fsops::fingerprint(side).map_or(0, |f| f.size);
    match fsops::copy_new(side, &target) {
        Ok(()) => event(side, Some(&target), CompressOutcome::Kept, "sidecar", before, before, Some(reason)),
        Err(e) => event(side, None, CompressOutcome::Error, "sidecar", before, 0, Some(e.to_string())),
    }
}

/// Runs `f` on a rayon pool of `n` threads (or the global pool if one cannot be built).
fn run_pool(n: usize, f: impl FnOnce() + Send) {
    match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

#[allow(clippy::too_many_arguments)]
fn event(
    path: &Path,
    dest: Option<&Path>,
    outcome: CompressOutcome,
    kind: &'static str,
    before: u64,
    after: u64,
    reason: Option<String>,
) -> CompressEvent {
    CompressEvent {
        path: path.to_path_buf(),
        dest: dest.map(|d| d.to_string_lossy().into_owned()),
        outcome,
        kind,
        before,
        after,
        reason,
        kept_kind: None,
    }
}

fn skipped(path: &Path, why: &str) -> CompressEvent {
    event(path, None, CompressOutcome::Skipped, "other", 0, 0, Some(why.to_string()))
}

/// Copies the original to the target as it is: "kept", or, after a
/// failure, an error that says the original was copied.
fn keep(job: &Job, kind: &'static str, before: u64, why: String, failed: bool) -> CompressEvent {
    let outcome = if failed { CompressOutcome::Error } else { CompressOutcome::Kept };
    match fsops::copy_new(&job.path, &job.target) {
        Ok(()) => {
            let why = if failed { format!("{why}; copied as it is") } else { why };
            event(&job.path, Some(&job.target), outcome, kind, before, before, Some(why))
        }
        Err(e) => event(&job.path, None, CompressOutcome::Error, kind, before, 0, Some(format!("{why}; {e}"))),
    }
}

fn kind_kept_reason(kind: Kind) -> Option<String> {
    let what = match kind {
        Kind::Heif => "HEIC is already compressed efficiently (--to-jpeg converts it)",
        Kind::Avif => "AVIF is already compressed efficiently",
        Kind::Webp => "WebP is kept as it is",
        Kind::Gif => "GIF is kept as it is (--to-jpeg converts a still one)",
        Kind::Bmp | Kind::Tiff => "BMP and TIFF are converted to PNG only with --convert",
        k if k.is_raw() => "RAW files are kept as they are",
        _ => return None,
    };
    Some(format!("{what}; copied unchanged"))
}

fn compress_image(job: &Job, opts: &CompressOptions) -> CompressEvent {
    let data = match std::fs::read(&job.path) {
        Ok(d) => d,
        Err(e) => {
            let why = format!("{}: cannot read: {e}", job.path.display());
            return event(&job.path, None, CompressOutcome::Error, "image", 0, 0, Some(why));
        }
    };
    let before = data.len() as u64;
    // A HEIC motion photo is copied whole: a JPEG of it would lose its video.
    let motion = (job.kind == Kind::Heif).then(|| crate::media::motion::detect(&data, job.kind)).flatten();
    if let Some(m) = motion {
        let mut ev = keep(job, "image", before, codec::motion_kept(&m), false);
        if ev.outcome == CompressOutcome::Kept {
            ev.kept_kind = Some(job.kind.name());
        }
        return ev;
    }
    if opts.to_jpeg && matches!(job.kind, Kind::Heif | Kind::Gif) {
        // Converted when asked, even if bigger (a HEIC's JPEG usually is); an animated GIF is kept.
        let result = match job.kind {
            Kind::Heif => codec::heif_to_jpeg(&data, opts.level.jpeg_quality()).map(Recompressed::Smaller),
            _ => codec::gif_to_jpeg(&data, opts.level.jpeg_quality()),
        };
        let target = job.target.with_extension("jpg");
        return match result {
            Ok(Recompressed::Smaller(bytes)) => match fsops::write_new(&target, &bytes, &job.path) {
                Ok(()) => {
                    let after = bytes.len() as u64;
                    let why =
                        (after >= before).then(|| "converted as asked; the JPEG is bigger than the original".into());
                    event(&job.path, Some(&target), CompressOutcome::Converted, "image", before, after, why)
                }
                Err(e) => event(&job.path, None, CompressOutcome::Error, "image", before, 0, Some(e.to_string())),
            },
            Ok(Recompressed::Keep(why)) => keep(job, "image", before, why, false),
            Err(e) => keep(job, "image", before, format!("{}: {e}", job.path.display()), true),
        };
    }
    let converting = opts.convert && matches!(job.kind, Kind::Bmp | Kind::Tiff);
    if !converting {
        if let Some(why) = kind_kept_reason(job.kind) {
            let mut ev = keep(job, "image", before, why, false);
            if ev.outcome == CompressOutcome::Kept {
                ev.kept_kind = Some(if job.kind.is_raw() { "raw" } else { job.kind.name() });
            }
            return ev;
        }
    }
    let (result, target) = match job.kind {
        Kind::Jpeg => (
            codec::recompress_jpeg(&data, opts.level.jpeg_quality(), opts.level.progressive(), opts.force),
            job.target.clone(),
        ),
        Kind::Png => (codec::recompress_png(&data), job.target.clone()),
        Kind::Bmp | Kind::Tiff => {
            let png = codec::convert_to_png(&data, job.kind).map(|b| {
                if (b.len() as u64) < before {
                    Recompressed::Smaller(b)
                } else {
                    Recompressed::Keep("as PNG it would not be smaller; kept".into())
                }
            });
            (png, job.target.with_extension("png"))
        }
        _ => (Ok(Recompressed::Keep("kept as it is".into())), job.target.clone()),
    };
    match result {
        Ok(Recompressed::Smaller(bytes)) => match fsops::write_new(&target, &bytes, &job.path) {
            Ok(()) => {
                let outcome =
                    if target == job.target { CompressOutcome::Compressed } else { CompressOutcome::Converted };
                event(&job.path, Some(&target), outcome, "image", before, bytes.len() as u64, None)
            }
            Err(e) => event(&job.path, None, CompressOutcome::Error, "image", before, 0, Some(e.to_string())),
        },
        Ok(Recompressed::Keep(why)) => keep(job, "image", before, why, false),
        Err(e) => keep(job, "image", before, format!("{}: {e}", job.path.display()), true),
    }
}

fn compress_video(job: &Job, opts: &CompressOptions, has_ffmpeg: bool, threads: usize) -> CompressEvent {
    let before = std::fs::metadata(&job.path).map_or(0, |m| m.len());
    let Some(muxer) = ffmpeg::muxer_for(job.kind) else {
        return keep(job, "video", before, format!("{} video is kept as it is", job.kind.name()), false);
    };
    if !has_ffmpeg {
        return keep(job, "video", before, ffmpeg::FfmpegError::Missing.to_string(), true);
    }
    if let Err(e) = fsops::create_dirs(job.target.parent().unwrap_or(Path::new("."))) {
        return event(&job.path, None, CompressOutcome::Error, "video", before, 0, Some(e.to_string()));
    }
    let tmp = fsops::new_temp_beside(&job.target, muxer);
    if let Err(e) = ffmpeg::transcode(&job.path, &tmp, muxer, opts.level.crf(), threads) {
        let _ = fsops::remove_temp(&tmp);
        return keep(job, "video", before, format!("{}: {e}", job.path.display()), true);
    }
    let after = std::fs::metadata(&tmp).map_or(u64::MAX, |m| m.len());
    if after >= before {
        let _ = fsops::remove_temp(&tmp);
        return keep(
            job,
            "video",
            before,
            format!("re-encoded at CRF {} it was not smaller; kept", opts.level.crf()),
            false,
        );
    }
    match fsops::commit_new(&tmp, &job.target, &job.path) {
        Ok(()) => event(&job.path, Some(&job.target), CompressOutcome::Compressed, "video", before, after, None),
        Err(e) => event(&job.path, None, CompressOutcome::Error, "video", before, 0, Some(e.to_string())),
    }
}
