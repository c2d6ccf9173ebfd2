//! cbctl's command line: every command, option and help text, in one
//! place, so the man pages and completions (`cbctl generate-docs`) come
//! from the same definitions as the parser.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};
use crate::engine::group::GroupOptions;

/// cbctl's arguments.
#[derive(Parser, Debug)]
#[command(
    name = "cbctl",
    version,
    about = "Control clean-backup: organize a photo library, undo, inspect",
    long_about = "Control clean-backup: organize a photo library, undo, inspect.\n\n\
        Commands that change files (organize, dedup, undo, prune) run on the daemon when one is \
        running, with their progress streamed back, else here on the same journal. cbctl finds a running \
        daemon through $XDG_RUNTIME_DIR/clean-backup/daemon.json (or /run/clean-backup/ for the system \
        service), else through the config's state_dir. Every file move is journaled first: `cbctl undo` \
        puts a session's files back and a crash is repaired on the next start. \
        Results go to stdout; progress, warnings and errors to stderr. \
        --json prints one JSON object per file or event, then a summary object with \"summary\": true.",
    after_long_help = "Exit status: 0 success; 1 some files failed (each named on stderr, the rest were done); \
        2 usage or config error (nothing was changed); 3 the daemon is not running (status, pause, resume, rescan).\n\n\
        Files: $XDG_CONFIG_HOME/clean-backup/config.toml (the config; see clean-backup.toml(5)); \
        $XDG_STATE_HOME/clean-backup/ (journal database, lock, the daemon's control socket); \
        $XDG_RUNTIME_DIR/clean-backup/daemon.json (where the running daemon's socket is).\n\n\
        Environment: CLEAN_BACKUP_CONFIG names the config file; CLEAN_BACKUP_LOG sets the log filter (e.g. debug).\n\n\
        See also: clean-backupd(8), clean-backup.toml(5)."
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/clean-backup/config.toml if present, else the running daemon's).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory (journal database, lock); overrides the config.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Work on the journal in this process instead of asking the daemon (when none runs).
    #[arg(long, global = true)]
    pub local: bool,
    /// Print JSON lines only: one object per file or event, then a summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// File every media file under SRC into DEST/{year}/{month} by capture date.
    Organize(OrganizeArgs),
    /// The daemon's state: inboxes, queue, files filed/skipped/failed today and in total.
    Status,
    /// Stop filing until `cbctl resume` (the daemon keeps running).
    Pause,
    /// Resume filing after `cbctl pause`.
    Resume,
    /// Look at every inbox file again, including ones left alone before
    /// (but not those an undo put back, unless --undone), and catch the
    /// library index up; a library folder without its marker is adopted.
    Rescan {
        /// Also file again what an undo put back into the inboxes.
        #[arg(long)]
        undone: bool,
    },
    /// List past sessions (id, kind, time, counts).
    History {
        /// How many sessions to show (1 to 10000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
    /// Put back the files a session moved (or remove the copies it made).
    Undo {
        /// Session id from `cbctl history`.
        #[arg(conflicts_with = "last")]
        session: Option<i64>,
        /// Undo the newest session that still has files in place (or a verdict standing: not-duplicate, prefer).
        #[arg(long)]
        last: bool,
    },
    /// Print each file's capture date and the source that gave it.
    Date {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print each image's perceptual hash (16 hex digits, imagehash's order).
    Hash {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Find duplicate photos and videos: exact copies and the same picture resized, re-encoded or converted.
    Dedup(DedupArgs),
    /// Write compressed copies of the images and videos under SRC into DEST (same relative paths; originals untouched).
    Compress(CompressArgs),
    /// Explain what clean-backup did with a file and why.
    ///
    /// Tells, from the journal and the index: the session, the decision (filed, skipped,
    /// failed, or set aside by dedup), the library file it duplicates and how close, the
    /// date it was filed by and where that date came from, and every journaled move since.
    /// Give the inbox path or the library path. Exit code 1 when nothing is known about a file.
    Why {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List every file set aside as a duplicate, with its keeper and the command that files it anyway.
    ///
    /// One entry per file the daemon or a job left in place or moved to the duplicates folder, as it
    /// is now: the verdict (exact: the same bytes or pixels; similar: a copy of the same capture;
    /// deleted: deleted before and arriving again), where the file is, where its keeper is, the pHash
    /// distance, the session and date, and `cbctl keep PATH` to file it after all.
    Skipped,
    /// File a set-aside file after all, and never call it a duplicate of its keeper again.
    ///
    /// Files each FILE (as `cbctl skipped` lists it: in its inbox, or in the duplicates folder) where
    /// the session that set it aside files the others, journaled (`cbctl undo` puts it back). The pair
    /// (its content, its keeper's) is stored by content, so it holds through renames and restarts; a
    /// remembered deletion of it is lifted.
    Keep {
        /// The set-aside files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Say two files are not duplicates: they are never grouped or set aside as copies of each other again.
    ///
    /// Stored by content (renames and re-syncs keep it), in a journal session of its own (`cbctl undo`
    /// takes it back); the daemon then looks again at the files it left alone, so one it had left as a
    /// duplicate of the other is filed.
    NotDuplicate {
        /// One file.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// Keep FILE over its duplicates from now on: dedup and the daemon pick it as the keeper of its group.
    ///
    /// Stored by content (renames and re-syncs keep it), in a journal session of its own: `cbctl undo`
    /// takes the choice back. Only a file under `dedup.protect` comes before it.
    Prefer {
        /// The file to keep.
        file: PathBuf,
    },
    /// Let a file deleted before be filed again.
    ///
    /// A file whose content was deleted (and pruned) before is set aside when it arrives again
    /// ("deleted before on DATE, session N"); this lifts that memory of FILE's content, and the
    /// daemon looks again at the files it left alone.
    Forget {
        /// The file that arrived again.
        file: PathBuf,
    },
    /// Empty the trash and the duplicates folder: remove for good the files `dedup --action delete`, compression and the set-aside duplicates put there.
    ///
    /// Lists what it would remove and asks before it does (--yes to skip the
    /// question, --dry-run to only list). What it removes is remembered by
    /// content: the same bytes arriving in an inbox again are set aside as
    /// "deleted before", not filed (`cbctl forget FILE` lifts that).
    Prune {
        /// Only files trashed more than this many days ago (0: everything in the trash).
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        older_than: u32,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask: remove at once (needed when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Read or edit the config file (comments are kept).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Look before deleting: a page with each duplicate group's pictures side by side.
    ///
    /// Serves a page on 127.0.0.1 and ::1 only, from cbctl itself (your own rights), at an address
    /// with a random token that it prints. It shows DIR's duplicate and similar groups (a dedup
    /// report; unchanged files are not read again) and the files the daemon set aside, each with
    /// its keeper marked, its pixel size, bytes, format, date, camera and distance, and why the
    /// keeper won; then the files dated by their mtime only, and those that could not be read.
    /// Its buttons (keep both, keep this one instead, move duplicates to trash, file it anyway,
    /// undo) make the same journaled requests as the cbctl commands, so `cbctl undo` and `cbctl why`
    /// know of them. Stops on Ctrl-C, or after --idle minutes without a request.
    Review(ReviewArgs),
    /// Print a shell completion script: `cbctl completions bash > ~/.local/share/bash-completion/completions/cbctl`.
    Completions {
        /// The shell.
        #[arg(value_enum, value_name = "bash|elvish|fish|powershell|zsh")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (DIR/man/) and completion scripts (DIR/completions/), for packaging.
    GenerateDocs {
        /// Where to write them.
        dir: PathBuf,
    },
}

/// `cbctl compress`.
#[derive(Args, Debug)]
pub struct CompressArgs {
    /// Folder to read (recursively); nothing in it is changed.
    pub src: PathBuf,
    /// Folder to write the compressed copies into.
    pub dest: PathBuf,
    /// 1 high quality (JPEG q95, CRF 18), 2 balanced (q85, CRF 23), 3 maximum (q75, CRF 28).
    /// Default: `compress.level` from the config, else 2.
    #[arg(long, value_name = "1|2|3", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub level: Option<u8>,
    /// Only images (both kinds when neither --images nor --videos is given).
    #[arg(long)]
    pub images: bool,
    /// Only videos.
    #[arg(long)]
    pub videos: bool,
    /// Re-encode JPEGs that are already at or below the target quality.
    #[arg(long)]
    pub force: bool,
    /// Convert BMP and TIFF losslessly to PNG (otherwise they are copied as they are).
    #[arg(long)]
    pub convert: bool,
    /// Convert HEIC/HEIF (metadata kept) and still GIFs to JPEG at the level's quality.
    /// RAW files and animated GIFs are always copied as they are.
    #[arg(long)]
    pub to_jpeg: bool,
    /// Parallel image workers (default: all cores); videos use half as many ffmpeg processes.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
}

/// `cbctl organize`.
#[derive(Args, Debug)]
pub struct OrganizeArgs {
    /// Folder to take media from (recursively).
    pub src: PathBuf,
    /// Library folder to file it into.
    pub dest: PathBuf,
    /// Copy files, leaving the originals in place.
    #[arg(long, conflicts_with = "move_")]
    pub copy: bool,
    /// Move files (the default).
    #[arg(long = "move")]
    pub move_: bool,
    /// Print the plan (to stdout) without touching anything.
    #[arg(long)]
    pub dry_run: bool,
    /// How duplicates are recognised.
    #[command(flatten)]
    pub dup: DupArgs,
}

/// How duplicates are recognised (defaults from `[dedup]` in the config).
#[derive(Args, Debug)]
pub struct DupArgs {
    /// Exact copies (same bytes) only: no perceptual hash (with dedup.names on, a copy-named file is still compared by its picture; `dedup --exact` decodes nothing).
    #[arg(long)]
    pub no_phash: bool,
    /// Use OS copy names ("IMG (1).jpg", "x - Copy.jpg") to pick keepers.
    #[arg(long)]
    pub names: bool,
    /// Maximum pHash distance for "the same picture": 0-32, or exact (2), standard (6), aggressive (10).
    #[arg(long, value_name = "0-32|exact|standard|aggressive", value_parser = config::parse_threshold)]
    pub threshold: Option<u32>,
}

impl DupArgs {
    /// The config's duplicate rules with these options applied.
    pub fn options(&self, cfg: &Config) -> GroupOptions {
        let mut g = GroupOptions::from_config(cfg);
        if self.no_phash {
            g.perceptual = false;
        }
        if self.names {
            g.names = true;
        }
        if let Some(t) = self.threshold {
            g.threshold = t;
        }
        g
    }
}

/// What dedup does with every copy but the keeper.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionArg {
    /// Only list the groups.
    Report,
    /// Move the duplicates under --to.
    Move,
    /// Copy them under --to.
    Copy,
    /// Move them to the trash.
    Delete,
}

/// `cbctl dedup`.
#[derive(Args, Debug)]
pub struct DedupArgs {
    /// Folders to look in (recursively).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// What to do with every copy but the best: report only (default), move or copy them under --to, or delete (to the trash; `cbctl undo` brings them back, `cbctl prune` empties it).
    #[arg(
        long,
        value_enum,
        default_value = "report",
        value_name = "report|move|copy|delete",
        hide_possible_values = true
    )]
    pub action: ActionArg,
    /// Where move and copy put the duplicates (paths relative to each DIR are kept).
    #[arg(long, value_name = "DIR", required_if_eq_any = [("action", "move"), ("action", "copy")])]
    pub to: Option<PathBuf>,
    /// The report: text lines (default), or one self-contained HTML page written to --out.
    #[arg(long, value_enum, default_value = "text", value_name = "text|html", hide_possible_values = true)]
    pub report: ReportArg,
    /// Where --report html writes the page.
    #[arg(long, value_name = "FILE", required_if_eq("report", "html"))]
    pub out: Option<PathBuf>,
    /// How duplicates are recognised.
    #[command(flatten)]
    pub dup: DupArgs,
    /// Exact copies only, and fast: nothing is decoded; files are grouped by size, then by their first and last 16 KiB, and only those still alike are read whole. Copy names still pick the keeper.
    #[arg(long, conflicts_with = "threshold")]
    pub exact: bool,
    /// With --exact: every file counts, not only photos and videos.
    #[arg(long, requires = "exact")]
    pub all_files: bool,
}

/// `cbctl review`.
#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The folder whose duplicates to review (without it: the daemon's set-aside files only).
    pub dir: Option<PathBuf>,
    /// The port on 127.0.0.1 and ::1 (default: one that is free).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the page in the desktop's browser (xdg-open).
    #[arg(long)]
    pub open: bool,
    /// Stop after this long without a request: minutes (30), or seconds (90s); 0 never stops.
    #[arg(long, default_value = "30", value_name = "MINUTES", value_parser = super::review::parse_idle)]
    pub idle: std::time::Duration,
    /// How duplicates are recognised.
    #[command(flatten)]
    pub dup: DupArgs,
}

/// The form of dedup's report.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportArg {
    /// Lines on stdout (JSON lines with --json).
    Text,
    /// One self-contained, read-only HTML page (--out FILE) with the thumbnails embedded.
    Html,
}

/// `cbctl config`.
#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print a key's resolved value, or the whole resolved config.
    Get {
        /// A dotted key (see clean-backup.toml(5)).
        #[arg(value_parser = KeyParser, hide_possible_values = true)]
        key: Option<String>,
    },
    /// Set a key in the config file, keeping its comments.
    Set {
        /// A dotted key (see clean-backup.toml(5)).
        #[arg(value_parser = KeyParser, hide_possible_values = true)]
        key: String,
        /// The new value (TOML, or a bare string).
        value: String,
    },
}

/// A config key: any text (the config says what is wrong with a bad one,
/// exit 2), with the known keys offered to shell completion.
#[derive(Clone, Debug)]
struct KeyParser;

impl TypedValueParser for KeyParser {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        value.to_str().map(str::to_string).ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(config::KEYS.iter().map(|k| PossibleValue::new(k.replace(".N.", ".0.")).hide(false))))
    }
}
