//! The TOML config: where it is found, defaults, validation, in-place edits.
//!
//! The file is parsed with `toml_edit`, which keeps the span of every key,
//! so each error names the file, the line and the dotted key. Edits
//! (`cbctl config set`) go through the same document, keeping comments and
//! formatting, and are validated before anything is written.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, ImDocument, Item, TableLike};

/// Config errors; each names the file, and the key and line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key or a bad value.
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The 1-based line of the key (or of the syntax error).
        line: usize,
        /// The dotted key, such as `inbox[0].path`; `(syntax)` for a TOML syntax error.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `config set` on a file this process may not write: the system
    /// service's `/etc/clean-backup/config.toml` is read-only to the daemon
    /// (`ProtectSystem=strict`) and owned by root.
    #[error(
        "{path}: cannot be written ({source}); if it is the system service's config, edit it as root \
         (`sudoedit {path}`) and apply it with `sudo systemctl reload clean-backupd`"
    )]
    NotWritable {
        /// The config file.
        path: PathBuf,
        /// The permission or read-only-filesystem error of the write.
        #[source]
        source: std::io::Error,
    },
    /// `config set` of a library or inbox that may not be one.
    #[error("cannot set `{key}`: {message}; nothing was changed")]
    Refused {
        /// The dotted key that was to be set.
        key: String,
        /// Why the folder may not be a library or inbox.
        message: String,
    },
    /// `config get/set` on a key that does not exist.
    #[error("unknown config key `{0}`; known keys: {known}", known = KEYS.join(", "))]
    NoSuchKey(String),
    /// Two or more problems in one file, each an [`ConfigError::Invalid`]
    /// naming its line and key, in the order of their lines.
    #[error("{path}: {count} problems, fix each of them:\n{list}", count = errors.len(), list = list_lines(errors))]
    Many {
        /// The config file.
        path: PathBuf,
        /// The problems, sorted by line.
        errors: Vec<ConfigError>,
    },
}

impl ConfigError {
    /// The problems found in `path`, as one error: `None` when there are
    /// none, the error itself when there is one, else [`ConfigError::Many`]
    /// sorted by line.
    pub fn collect(path: &Path, mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        let line = |e: &ConfigError| match e {
            ConfigError::Invalid { line, .. } => *line,
            _ => 0,
        };
        errors.sort_by_key(line);
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Many { path: path.to_path_buf(), errors }),
        }
    }

    /// Each problem this error stands for: the list of a [`ConfigError::Many`], else itself.
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Many { errors, .. } => errors.iter().collect(),
            other => vec![other],
        }
    }
}

/// One indented line per error.
fn list_lines(errors: &[ConfigError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

/// Every settable key, dotted. `inbox.N.path` / `inbox.N.mode` address the Nth (0-based) inbox.
pub const KEYS: &[&str] = &[
    "library",
    "state_dir",
    "layout",
    "layout_undated",
    "read_back_copies",
    "inbox.N.path",
    "inbox.N.mode",
    "watch.settle_seconds",
    "watch.pair_seconds",
    "dedup.perceptual",
    "dedup.threshold",
    "dedup.names",
    "dedup.prefer",
    "dedup.protect",
    "dedup.on_duplicate",
    "dedup.on_similar",
    "compress.enabled",
    "compress.level",
    "control.dbus",
    "control.allow_users",
    "control.allow_groups",
    "control.job_roots",
];

/// The formats `dedup.prefer` may name ("raw" stands for every camera RAW kind).
pub const PREFER_FORMATS: &[&str] =
    &["raw", "heic", "heif", "avif", "jxl", "jp2", "png", "tiff", "webp", "jpeg", "jpg", "gif", "bmp"];

/// Inbox mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Move files out of the inbox into the library.
    Move,
    /// Copy them, leaving the inbox as it is.
    Copy,
}

impl Mode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Move => "move",
            Mode::Copy => "copy",
        }
    }
}

/// One `[[inbox]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbox {
    /// The folder watched.
    pub path: PathBuf,
    /// Move or copy.
    pub mode: Mode,
}

/// What to do with a duplicate arriving in an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Leave it in the inbox and remember it.
    Skip,
    /// Move it to a duplicates folder, journaled.
    Quarantine,
}

/// D-Bus bus choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbusMode {
    /// The user's session bus.
    Session,
    /// The system bus.
    System,
    /// No D-Bus.
    Off,
}

/// The resolved config (paths expanded, defaults applied).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from, if any.
    pub source: Option<PathBuf>,
    /// Where filed media lives.
    pub library: PathBuf,
    /// SQLite journal, lock, socket.
    pub state_dir: PathBuf,
    /// Folder template under the library.
    pub layout: String,
    /// Folder template for files whose only date is their mtime (no date in
    /// the file or its name), so they do not mix with dated photos.
    pub layout_undated: String,
    /// A copy to another filesystem is read back from the disk to check it,
    /// rather than checked by hashing the bytes as they are written.
    pub read_back_copies: bool,
    /// Watched inboxes.
    pub inbox: Vec<Inbox>,
    /// Seconds a file must stay unchanged before it is filed.
    pub settle_seconds: u64,
    /// Seconds a settled file that belongs with another (a Live Photo's
    /// still or video, a sidecar) waits for it to come too.
    pub pair_seconds: u64,
    /// Use perceptual hashes for duplicates.
    pub dedup_perceptual: bool,
    /// Hamming distance threshold.
    pub dedup_threshold: u32,
    /// Use OS copy-name patterns for duplicates.
    pub dedup_names: bool,
    /// Formats to keep first among copies of the same picture at the same
    /// resolution (e.g. `["heic", "raw"]`), before file size decides; empty:
    /// the built-in order (RAW > HEIC/AVIF/PNG/TIFF/WebP > JPEG) after size.
    pub dedup_prefer: Vec<String>,
    /// Folders whose files are never the ones set aside as duplicates (a
    /// copy there is kept over any copy elsewhere).
    pub dedup_protect: Vec<PathBuf>,
    /// Skip or quarantine exact duplicates.
    pub on_duplicate: OnDuplicate,
    /// Skip, quarantine or file copies of the same capture (similar pictures).
    pub on_similar: crate::engine::group::SetAside,
    /// Compress on ingest.
    pub compress_enabled: bool,
    /// Compression level 1..=3.
    pub compress_level: u8,
    /// D-Bus bus.
    pub dbus: DbusMode,
    /// Users (names or uids), besides root and the daemon's own, who may call
    /// more than `status`/`history`/`why`.
    pub allow_users: Vec<String>,
    /// Groups (names or gids) whose members may do the same.
    pub allow_groups: Vec<String>,
    /// Folders, besides the library and the inboxes, that jobs may work in.
    pub job_roots: Vec<PathBuf>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// Where `config set` writes when no file exists yet: $XDG_CONFIG_HOME/clean-backup/config.toml.
pub fn user_config_path() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("clean-backup/config.toml")
}

/// Expands `~` and resolves a relative path against the config file's folder.
fn expand(raw: &str, base: &Path) -> PathBuf {
    if raw == "~" {
        home()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home().join(rest)
    } else {
        base.join(raw)
    }
}

impl Config {
    /// Defaults for the current user (XDG paths, ~/Pictures).
    pub fn defaults() -> Config {
        Config {
            source: None,
            library: home().join("Pictures/Library"),
            state_dir: xdg("XDG_STATE_HOME", ".local/state").join("clean-backup"),
            layout: "{year}/{month:02}".to_string(),
            layout_undated: crate::layout::DEFAULT_UNDATED.to_string(),
            read_back_copies: false,
            inbox: vec![Inbox { path: home().join("Pictures/Inbox"), mode: Mode::Move }],
            settle_seconds: 5,
            pair_seconds: 30,
            dedup_perceptual: true,
            dedup_threshold: 6,
            dedup_names: true,
            dedup_prefer: Vec::new(),
            dedup_protect: Vec::new(),
            on_duplicate: OnDuplicate::Skip,
            on_similar: crate::engine::group::SetAside::Quarantine,
            compress_enabled: false,
            compress_level: 2,
            dbus: DbusMode::Session,
            allow_users: Vec::new(),
            allow_groups: Vec::new(),
            job_roots: Vec::new(),
        }
    }

    /// Loads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Config::parse(&text, path)
    }

    /// Validates config text as if read from `path` (relative paths resolve against its folder).
    ///
    /// Every problem is reported, not only the first: one is returned as it
    /// is ([`ConfigError::Invalid`]), two or more as [`ConfigError::Many`],
    /// in the order of their lines. A TOML syntax error stops at that error.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let doc = ImDocument::parse(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, e.span().map(|s| s.start).unwrap_or(0)),
            key: "(syntax)".into(),
            message: e.message().trim().to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        let base = std::path::absolute(&base).unwrap_or(base);
        let v = Validator { path, text };
        let mut cfg = Config::defaults();
        cfg.source = Some(path.to_path_buf());
        cfg.inbox.clear();
        let mut errors = Vec::new();
        // Keys whose value was bad (left at its default): checks that compare them are skipped.
        let mut bad_roots = false;
        let root = doc.as_table();
        for (key, item) in root.iter() {
            let result = match key {
                "library" => v.string(root, key, key).map(|s| cfg.library = expand(&s, &base)),
                "state_dir" => v.string(root, key, key).map(|s| cfg.state_dir = expand(&s, &base)),
                "layout" => v.layout(root, key).map(|s| cfg.layout = s),
                "layout_undated" => v.layout(root, key).map(|s| cfg.layout_undated = s),
                "read_back_copies" => v.boolean(root, key, key).map(|b| cfg.read_back_copies = b),
                "inbox" => match item.as_array_of_tables() {
                    Some(list) => {
                        for (i, t) in list.iter().enumerate() {
                            match v.inbox(t, i, &base, &mut errors) {
                                Some(inbox) => cfg.inbox.push(inbox),
                                None => bad_roots = true,
                            }
                        }
                        Ok(())
                    }
                    None => Err(v.err(root, key, key, "must be [[inbox]] tables, each with `path` and `mode`".into())),
                },
                "watch" | "dedup" | "compress" | "control" => match item.as_table_like() {
                    Some(table) => {
                        v.section(key, table, &mut cfg, &mut errors);
                        Ok(())
                    }
                    None => Err(v.err(root, key, key, format!("must be a table ([{key}])"))),
                },
                other => Err(v.err(root, other, other, format!("unknown key; known keys: {}", KEYS.join(", ")))),
            };
            if let Err(e) = result {
                bad_roots |= matches!(key, "library" | "state_dir" | "inbox");
                errors.push(e);
            }
        }
        if !bad_roots && cfg.library == cfg.state_dir {
            errors.push(v.err(root, "state_dir", "state_dir", "must differ from `library`".into()));
        }
        for (i, inbox) in cfg.inbox.iter().enumerate().filter(|_| !bad_roots) {
            if inbox.path.starts_with(&cfg.library) || cfg.library.starts_with(&inbox.path) {
                errors.push(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: v.inbox_line(root, i),
                    key: format!("inbox[{i}].path"),
                    message: format!(
                        "{} and the library {} must not contain one another",
                        inbox.path.display(),
                        cfg.library.display()
                    ),
                });
            }
        }
        match ConfigError::collect(path, errors) {
            Some(e) => Err(e),
            None => Ok(cfg),
        }
    }

    /// The config file to use: `explicit`, else $CLEAN_BACKUP_CONFIG, else
    /// $XDG_CONFIG_HOME/clean-backup/config.toml if it exists, else /etc/clean-backup/config.toml
    /// if it exists. `None` = no file; run on defaults.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_path_buf());
        }
        if let Some(p) = std::env::var_os("CLEAN_BACKUP_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        [user_config_path(), PathBuf::from("/etc/clean-backup/config.toml")].into_iter().find(|p| p.is_file())
    }

    /// `locate` then `load`, or defaults when there is no file.
    pub fn load_or_default(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match Config::locate(explicit) {
            Some(p) => Config::load(&p),
            None => Ok(Config::defaults()),
        }
    }

    /// The folder layout: `layout`, with `layout_undated` for files whose only date is their mtime.
    pub fn layouts(&self) -> Result<crate::layout::Layout, crate::layout::LayoutError> {
        crate::layout::Layout::parse(&self.layout)?.with_undated(&self.layout_undated)
    }

    /// The resolved value of a dotted key, as printed by `config get`.
    pub fn value_of(&self, key: &str) -> Result<String, ConfigError> {
        let parts: Vec<&str> = key.split('.').collect();
        Ok(match parts.as_slice() {
            ["library"] => self.library.display().to_string(),
            ["state_dir"] => self.state_dir.display().to_string(),
            ["layout"] => self.layout.clone(),
            ["layout_undated"] => self.layout_undated.clone(),
            ["read_back_copies"] => self.read_back_copies.to_string(),
            ["watch", "settle_seconds"] => self.settle_seconds.to_string(),
            ["watch", "pair_seconds"] => self.pair_seconds.to_string(),
            ["dedup", "perceptual"] => self.dedup_perceptual.to_string(),
            ["dedup", "threshold"] => self.dedup_threshold.to_string(),
            ["dedup", "names"] => self.dedup_names.to_string(),
            ["dedup", "prefer"] => list_str(self.dedup_prefer.iter().map(String::as_str)),
            ["dedup", "protect"] => list_str(self.dedup_protect.iter().map(|p| p.to_str().unwrap_or_default())),
            ["dedup", "on_duplicate"] => on_dup_str(self.on_duplicate).to_string(),
            ["dedup", "on_similar"] => self.on_similar.as_str().to_string(),
            ["compress", "enabled"] => self.compress_enabled.to_string(),
            ["compress", "level"] => self.compress_level.to_string(),
            ["control", "dbus"] => dbus_str(self.dbus).to_string(),
            ["control", "allow_users"] => list_str(self.allow_users.iter().map(String::as_str)),
            ["control", "allow_groups"] => list_str(self.allow_groups.iter().map(String::as_str)),
            ["control", "job_roots"] => list_str(self.job_roots.iter().map(|p| p.to_str().unwrap_or_default())),
            ["inbox", i, field] => {
                let inbox = i.parse::<usize>().ok().and_then(|i| self.inbox.get(i));
                match (inbox, *field) {
                    (Some(b), "path") => b.path.display().to_string(),
                    (Some(b), "mode") => b.mode.as_str().to_string(),
                    _ => return Err(ConfigError::NoSuchKey(key.to_string())),
                }
            }
            _ => return Err(ConfigError::NoSuchKey(key.to_string())),
        })
    }

    /// The whole resolved config as TOML.
    pub fn to_toml(&self) -> String {
        let mut doc = DocumentMut::new();
        doc["library"] = toml_edit::value(self.library.display().to_string());
        doc["state_dir"] = toml_edit::value(self.state_dir.display().to_string());
        doc["layout"] = toml_edit::value(self.layout.clone());
        doc["layout_undated"] = toml_edit::value(self.layout_undated.clone());
        doc["read_back_copies"] = toml_edit::value(self.read_back_copies);
        let mut inboxes = toml_edit::ArrayOfTables::new();
        for b in &self.inbox {
            let mut t = toml_edit::Table::new();
            t["path"] = toml_edit::value(b.path.display().to_string());
            t["mode"] = toml_edit::value(b.mode.as_str());
            inboxes.push(t);
        }
        doc["inbox"] = Item::ArrayOfTables(inboxes);
        doc["watch"]["settle_seconds"] = toml_edit::value(self.settle_seconds as i64);
        doc["watch"]["pair_seconds"] = toml_edit::value(self.pair_seconds as i64);
        doc["dedup"]["perceptual"] = toml_edit::value(self.dedup_perceptual);
        doc["dedup"]["threshold"] = toml_edit::value(i64::from(self.dedup_threshold));
        doc["dedup"]["names"] = toml_edit::value(self.dedup_names);
        doc["dedup"]["prefer"] =
            toml_edit::value(self.dedup_prefer.iter().map(String::as_str).collect::<toml_edit::Array>());
        doc["dedup"]["protect"] =
            toml_edit::value(self.dedup_protect.iter().map(|p| p.display().to_string()).collect::<toml_edit::Array>());
        doc["dedup"]["on_duplicate"] = toml_edit::value(on_dup_str(self.on_duplicate));
        doc["dedup"]["on_similar"] = toml_edit::value(self.on_similar.as_str());
        doc["compress"]["enabled"] = toml_edit::value(self.compress_enabled);
        doc["compress"]["level"] = toml_edit::value(i64::from(self.compress_level));
        doc["control"]["dbus"] = toml_edit::value(dbus_str(self.dbus));
        let array = |items: Vec<String>| toml_edit::value(items.into_iter().collect::<toml_edit::Array>());
        doc["control"]["allow_users"] = array(self.allow_users.clone());
        doc["control"]["allow_groups"] = array(self.allow_groups.clone());
        doc["control"]["job_roots"] = array(self.job_roots.iter().map(|p| p.display().to_string()).collect());
        doc.to_string()
    }
}

/// A list of strings as TOML writes it: `["a", "b"]`.
fn list_str<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.map(|s| toml_edit::Value::from(s).to_string().trim().to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

fn on_dup_str(o: OnDuplicate) -> &'static str {
    match o {
        OnDuplicate::Skip => "skip",
        OnDuplicate::Quarantine => "quarantine",
    }
}

fn dbus_str(d: DbusMode) -> &'static str {
    match d {
        DbusMode::Session => "session",
        DbusMode::System => "system",
        DbusMode::Off => "off",
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Checks values, turning spans into line numbers.
struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Validator<'_> {
    fn span_line(&self, span: Option<Range<usize>>) -> usize {
        line_of(self.text, span.map(|s| s.start).unwrap_or(0))
    }

    /// An error at `key` of `table`, reported as `dotted`.
    fn err(&self, table: &dyn TableLike, key: &str, dotted: &str, message: String) -> ConfigError {
        let span = table.get_key_value(key).and_then(|(k, item)| k.span().or_else(|| item.span()));
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.span_line(span),
            key: dotted.to_string(),
            message,
        }
    }

    fn item<'t>(&self, table: &'t dyn TableLike, key: &str) -> &'t Item {
        table.get(key).unwrap_or(&Item::None)
    }

    fn string(&self, table: &dyn TableLike, key: &str, dotted: &str) -> Result<String, ConfigError> {
        match self.item(table, key).as_str() {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.err(table, key, dotted, "must be a non-empty string".into())),
        }
    }

    /// A layout template (`layout`, `layout_undated`): a string [`Layout::parse`](crate::layout::Layout::parse) takes.
    fn layout(&self, table: &dyn TableLike, key: &str) -> Result<String, ConfigError> {
        let s = self.string(table, key, key)?;
        crate::layout::Layout::parse(&s).map_err(|e| self.err(table, key, key, e.reason))?;
        Ok(s)
    }

    fn strings(&self, table: &dyn TableLike, key: &str, dotted: &str) -> Result<Vec<String>, ConfigError> {
        let bad = || self.err(table, key, dotted, "must be a list of non-empty strings, like [\"a\", \"b\"]".into());
        let list = self.item(table, key).as_array().ok_or_else(bad)?;
        list.iter().map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string).ok_or_else(bad)).collect()
    }

    /// The folder relative paths resolve against.
    fn base(&self) -> PathBuf {
        let base = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        std::path::absolute(&base).unwrap_or(base)
    }

    fn boolean(&self, table: &dyn TableLike, key: &str, dotted: &str) -> Result<bool, ConfigError> {
        self.item(table, key).as_bool().ok_or_else(|| self.err(table, key, dotted, "must be true or false".into()))
    }

    fn int(&self, table: &dyn TableLike, key: &str, dotted: &str, range: Range<i64>) -> Result<i64, ConfigError> {
        match self.item(table, key).as_integer() {
            Some(n) if range.contains(&n) => Ok(n),
            _ => Err(self.err(
                table,
                key,
                dotted,
                format!("must be a whole number from {} to {}", range.start, range.end - 1),
            )),
        }
    }

    fn choice(&self, table: &dyn TableLike, key: &str, dotted: &str, allowed: &[&str]) -> Result<String, ConfigError> {
        match self.item(table, key).as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.to_string()),
            _ => Err(self.err(table, key, dotted, format!("must be one of {}", quoted(allowed)))),
        }
    }

    /// The `i`th inbox, its problems pushed onto `errors`; `None` when its
    /// path is missing or bad (a bad mode leaves the default, "move").
    fn inbox(&self, t: &toml_edit::Table, i: usize, base: &Path, errors: &mut Vec<ConfigError>) -> Option<Inbox> {
        let mut inbox = Inbox { path: PathBuf::new(), mode: Mode::Move };
        let mut path_ok = true;
        for (key, _) in t.iter() {
            let dotted = format!("inbox[{i}].{key}");
            let result = match key {
                "path" => self.string(t, key, &dotted).map(|s| inbox.path = expand(&s, base)),
                "mode" => self.choice(t, key, &dotted, &["move", "copy"]).map(|m| {
                    inbox.mode = if m == "copy" { Mode::Copy } else { Mode::Move };
                }),
                other => Err(self.err(t, other, &dotted, "unknown key; an inbox has `path` and `mode`".into())),
            };
            if let Err(e) = result {
                path_ok &= key != "path";
                errors.push(e);
            }
        }
        if path_ok && inbox.path.as_os_str().is_empty() {
            errors.push(ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: self.span_line(t.span()),
                key: format!("inbox[{i}].path"),
                message: "every [[inbox]] needs a `path`".into(),
            });
            return None;
        }
        path_ok.then_some(inbox)
    }

    fn inbox_line(&self, root: &toml_edit::Table, i: usize) -> usize {
        let span = root
            .get("inbox")
            .and_then(Item::as_array_of_tables)
            .and_then(|a| a.get(i))
            .and_then(|t| t.get_key_value("path").and_then(|(k, _)| k.span()).or_else(|| t.span()));
        self.span_line(span)
    }

    /// The keys of `[name]`, each problem pushed onto `errors`.
    fn section(&self, name: &str, table: &dyn TableLike, cfg: &mut Config, errors: &mut Vec<ConfigError>) {
        for (key, _) in table.iter() {
            if let Err(e) = self.section_key(name, table, key, cfg) {
                errors.push(e);
            }
        }
    }

    /// One key of `[name]`.
    fn section_key(&self, name: &str, table: &dyn TableLike, key: &str, cfg: &mut Config) -> Result<(), ConfigError> {
        let dotted = format!("{name}.{key}");
        let d = dotted.as_str();
        match (name, key) {
            ("watch", "settle_seconds") => cfg.settle_seconds = self.int(table, key, d, 1..3601)? as u64,
            ("watch", "pair_seconds") => cfg.pair_seconds = self.int(table, key, d, 0..3601)? as u64,
            ("dedup", "perceptual") => cfg.dedup_perceptual = self.boolean(table, key, d)?,
            ("dedup", "names") => cfg.dedup_names = self.boolean(table, key, d)?,
            ("dedup", "prefer") => {
                let names = self.strings(table, key, d)?;
                if let Some(bad) = names.iter().find(|n| !PREFER_FORMATS.contains(&n.to_ascii_lowercase().as_str())) {
                    let known = PREFER_FORMATS.join(", ");
                    return Err(self.err(table, key, d, format!("{bad:?} is not a format; known: {known}")));
                }
                cfg.dedup_prefer = names.iter().map(|n| n.to_ascii_lowercase()).collect();
            }
            ("dedup", "protect") => {
                cfg.dedup_protect = self.strings(table, key, d)?.iter().map(|p| expand(p, &self.base())).collect()
            }
            ("dedup", "threshold") => {
                cfg.dedup_threshold = match self.item(table, key).as_str().map(threshold_preset) {
                    Some(Some(t)) => t,
                    Some(None) => {
                        return Err(self.err(
                            table,
                            key,
                            d,
                            "must be 0 to 32, or \"exact\", \"standard\" or \"aggressive\"".into(),
                        ))
                    }
                    None => self.int(table, key, d, 0..33)? as u32,
                }
            }
            ("dedup", "on_duplicate") => {
                cfg.on_duplicate = match self.choice(table, key, d, &["skip", "quarantine"])?.as_str() {
                    "quarantine" => OnDuplicate::Quarantine,
                    _ => OnDuplicate::Skip,
                }
            }
            ("dedup", "on_similar") => {
                use crate::engine::group::SetAside;
                cfg.on_similar = match self.choice(table, key, d, &["skip", "quarantine", "file"])?.as_str() {
                    "skip" => SetAside::Skip,
                    "file" => SetAside::File,
                    _ => SetAside::Quarantine,
                }
            }
            ("compress", "enabled") => cfg.compress_enabled = self.boolean(table, key, d)?,
            ("compress", "level") => cfg.compress_level = self.int(table, key, d, 1..4)? as u8,
            ("control", "allow_users") => cfg.allow_users = self.strings(table, key, d)?,
            ("control", "allow_groups") => cfg.allow_groups = self.strings(table, key, d)?,
            ("control", "job_roots") => {
                cfg.job_roots = self.strings(table, key, d)?.iter().map(|p| expand(p, &self.base())).collect()
            }
            ("control", "dbus") => {
                cfg.dbus = match self.choice(table, key, d, &["session", "system", "off"])?.as_str() {
                    "system" => DbusMode::System,
                    "off" => DbusMode::Off,
                    _ => DbusMode::Session,
                }
            }
            _ => {
                let known: Vec<&str> =
                    KEYS.iter().filter_map(|k| k.strip_prefix(name).and_then(|k| k.strip_prefix('.'))).collect();
                return Err(self.err(table, key, d, format!("unknown key; [{name}] has {}", quoted(&known))));
            }
        }
        Ok(())
    }
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// The pHash distance a sensitivity preset stands for: `exact` 2,
/// `standard` 6, `aggressive` 10.
pub fn threshold_preset(name: &str) -> Option<u32> {
    match name {
        "exact" => Some(2),
        "standard" => Some(6),
        "aggressive" => Some(10),
        _ => None,
    }
}

/// A threshold as typed on the command line: 0–32 or a preset name.
pub fn parse_threshold(s: &str) -> Result<u32, String> {
    threshold_preset(s)
        .or_else(|| s.parse::<u32>().ok().filter(|n| *n <= 32))
        .ok_or_else(|| format!("{s:?}: expected 0 to 32, or exact, standard or aggressive"))
}

/// `cbctl config get [KEY]`: the resolved value of a dotted key (`dedup.threshold`),
/// or with `None` the whole resolved config, as TOML text.
/// Reads `path` if it exists, else the defaults.
pub fn get(path: &Path, key: Option<&str>) -> Result<String, ConfigError> {
    let cfg = if path.is_file() { Config::load(path)? } else { Config::defaults() };
    match key {
        Some(k) => cfg.value_of(k),
        None => Ok(cfg.to_toml()),
    }
}

/// Checks a dotted key names a setting; returns its parts.
fn key_parts(key: &str) -> Result<Vec<&str>, ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    let pattern: Vec<&str> = parts.iter().map(|p| if p.parse::<usize>().is_ok() { "N" } else { p }).collect();
    if KEYS.contains(&pattern.join(".").as_str()) {
        Ok(parts)
    } else {
        Err(ConfigError::NoSuchKey(key.to_string()))
    }
}

/// `cbctl config set KEY VALUE`: edits `path` in place keeping comments and
/// layout (toml_edit), creating the file if needed. The value is parsed as a
/// TOML value when it parses, else taken as a string; the edited file must
/// validate before it is written (atomically, via fsops).
///
/// Inbox keys are `inbox.N.path` / `inbox.N.mode`, N counting from 0;
/// `inbox.N` one past the last adds an inbox.
pub fn set(path: &Path, key: &str, value: &str) -> Result<(), ConfigError> {
    set_checked(path, key, value, None)
}

/// [`set`], checking a new library or inbox against `state_dir` (the
/// daemon's, which `--state-dir` may have moved; `None`: the config's own).
/// A library or inbox that is `/`, a system folder, inside the state
/// folder, missing, or not the daemon user's is refused ([`check_root`]).
pub fn set_checked(path: &Path, key: &str, value: &str, state_dir: Option<&Path>) -> Result<(), ConfigError> {
    let parts = key_parts(key)?;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(ConfigError::Io { path: path.to_path_buf(), source }),
    };
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of(&text, e.span().map(|s| s.start).unwrap_or(0)),
        key: "(syntax)".into(),
        message: e.message().trim().to_string(),
    })?;
    let parsed = format!("v = {value}")
        .parse::<DocumentMut>()
        .ok()
        .and_then(|d| d.get("v").and_then(Item::as_value).cloned())
        .unwrap_or_else(|| toml_edit::Value::from(value));
    let bad_index = || ConfigError::NoSuchKey(key.to_string());
    let new_value = parsed.clone();
    match parts.as_slice() {
        [k] => set_value(doc.as_table_mut(), k, parsed),
        ["inbox", i, field] => {
            let i: usize = i.parse().map_err(|_| bad_index())?;
            let list = doc
                .entry("inbox")
                .or_insert_with(|| Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
                .as_array_of_tables_mut()
                .ok_or_else(bad_index)?;
            if i == list.len() {
                list.push(toml_edit::Table::new());
            }
            let table = list.get_mut(i).ok_or_else(bad_index)?;
            set_value(table, field, parsed);
        }
        [section, k] => {
            let table =
                doc.entry(section).or_insert_with(toml_edit::table).as_table_like_mut().ok_or_else(bad_index)?;
            match table.get_mut(k) {
                Some(item) => set_item_keep_decor(item, parsed),
                None => {
                    table.insert(k, toml_edit::value(parsed));
                }
            }
        }
        _ => return Err(bad_index()),
    }
    let new_text = doc.to_string();
    let cfg = Config::parse(&new_text, path);
    // A new library or inbox is checked first: the most useful thing to say about `/`.
    if let (true, Some(raw)) = (matches!(parts.as_slice(), ["library"] | ["inbox", _, "path"]), new_value.as_str()) {
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let root = expand(raw, &std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf()));
        let state = match (&cfg, state_dir) {
            (_, Some(s)) => s.to_path_buf(),
            (Ok(c), None) => c.state_dir.clone(),
            (Err(_), None) => Config::defaults().state_dir,
        };
        check_root(&root, &state).map_err(|message| ConfigError::Refused { key: key.to_string(), message })?;
    }
    cfg?;
    crate::fsops::write_atomic(path, new_text.as_bytes()).map_err(|e| write_error(path, e))
}

/// The version-control systems [`edit_warnings`] notices: the folder each
/// keeps at the top of a working copy, and its name.
const VCS_DIRS: &[(&str, &str)] = &[(".git", "git"), (".hg", "mercurial"), (".svn", "subversion")];

/// What a person editing the config file at `path` (`cbctl config set`)
/// should know, at most one line per reason, each naming the file: it is
/// in a version-controlled folder (a `.git`, `.hg` or `.svn` in its folder
/// or above), so the edit is not committed; or it exists and is owned by
/// another user than this process's effective one, so the edited file may
/// no longer be theirs. Empty when neither.
pub fn edit_warnings(path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let shown = path.display();
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let vcs = absolute.ancestors().skip(1).find_map(|dir| {
        VCS_DIRS.iter().find(|(name, _)| std::fs::symlink_metadata(dir.join(name)).is_ok()).map(|(_, vcs)| (dir, *vcs))
    });
    if let Some((dir, vcs)) = vcs {
        warnings.push(format!(
            "{shown} is under version control ({vcs}, working copy {}): this edit is not committed;              review and commit it there",
            dir.display()
        ));
    }
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            let who = |uid: u32| match crate::access::user_name(uid) {
                Some(name) => format!("uid {uid} ({name})"),
                None => format!("uid {uid}"),
            };
            let owner = crate::access::user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string());
            let me_shown = crate::access::user_name(me).unwrap_or_else(|| format!("uid {me}"));
            warnings.push(format!(
                "{shown} is owned by {}, not you ({me_shown}): the edited file may no longer be theirs                  (see `ls -l {shown}`; `chown {owner} {shown}` gives it back)",
                who(meta.uid())
            ));
        }
    }
    warnings
}

/// Folders never accepted as a library or an inbox: the system's own.
pub const SYSTEM_DIRS: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/root",
    "/snap",
];

/// Why `dir` cannot be a library or an inbox, if it cannot: `/`, a system
/// folder (or one inside it), the state folder or a folder inside it, a
/// folder that does not exist (the daemon never creates one: it may be an
/// unmounted disk), or one the daemon's user neither owns nor may write.
pub fn check_root(dir: &Path, state_dir: &Path) -> Result<(), String> {
    let resolved = crate::fsops::canonical_lenient(dir).unwrap_or_else(|_| dir.to_path_buf());
    let state = crate::fsops::canonical_lenient(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let shown = dir.display();
    if resolved == Path::new("/") {
        return Err(format!("{shown} is the root folder; give a folder of its own for photos"));
    }
    if let Some(sys) = SYSTEM_DIRS.iter().find(|s| resolved.starts_with(s)) {
        let what = if resolved == Path::new(sys) { "is the system folder" } else { "is inside the system folder" };
        return Err(format!("{shown} {what} {sys}; give a folder of its own for photos"));
    }
    if resolved.starts_with(&state) {
        return Err(format!("{shown} is inside the state folder {}; keep photos out of it", state.display()));
    }
    let meta = match std::fs::metadata(&resolved) {
        Ok(m) => m,
        Err(_) => {
            return Err(format!(
                "{shown} does not exist; clean-backup never creates it (it could be a disk that is not mounted): \
                 create it with `mkdir -p {shown}` and set it again"
            ))
        }
    };
    if !meta.is_dir() {
        return Err(format!("{shown} is not a folder"));
    }
    use std::os::unix::fs::MetadataExt;
    let owned = meta.uid() == rustix::process::geteuid().as_raw();
    let writable = rustix::fs::access(&resolved, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).is_ok();
    if !owned && !writable {
        return Err(format!("{shown} is neither owned by nor writable for the user clean-backup runs as"));
    }
    Ok(())
}

/// A failed write of the config: a permission or read-only error gets the
/// hint for the system service's root-owned file.
fn write_error(path: &Path, e: crate::fsops::FsError) -> ConfigError {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
    match e {
        crate::fsops::FsError::Io { source, .. } if matches!(source.kind(), PermissionDenied | ReadOnlyFilesystem) => {
            ConfigError::NotWritable { path: path.to_path_buf(), source }
        }
        other => ConfigError::Io { path: path.to_path_buf(), source: std::io::Error::other(other.to_string()) },
    }
}

fn set_value(table: &mut toml_edit::Table, key: &str, v: toml_edit::Value) {
    match table.get_mut(key) {
        Some(item) => set_item_keep_decor(item, v),
        None => {
            table.insert(key, toml_edit::value(v));
        }
    }
}

/// Replaces a value keeping its trailing comment (`threshold = 6  # ...`).
fn set_item_keep_decor(item: &mut Item, mut v: toml_edit::Value) {
    if let Some(old) = item.as_value() {
        *v.decor_mut() = old.decor().clone();
    }
    *item = Item::Value(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn every_problem_is_reported_in_line_order_and_one_alone_as_itself() {
        let text = "layout = \"{yaer}\"\nlibary = \"x\"\n[watch]\nsettle_seconds = \"5\"\n[dedup]\nthreshold = 99\n";
        let err = Config::parse(text, Path::new("/c/config.toml")).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .problems()
            .iter()
            .map(|e| match e {
                ConfigError::Invalid { line, key, .. } => (*line, key.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(found, [(1, "layout"), (2, "libary"), (4, "watch.settle_seconds"), (6, "dedup.threshold")]);
        let shown = err.to_string();
        assert!(shown.starts_with("/c/config.toml: 4 problems"), "{shown}");
        assert_eq!(shown.lines().filter(|l| l.starts_with("  /c/config.toml:")).count(), 4, "{shown}");

        let one = Config::parse("[dedup]\nthreshold = 99\n", Path::new("/c/config.toml")).unwrap_err();
        assert!(matches!(one, ConfigError::Invalid { line: 2, .. }), "{one:?}");
    }

    #[test]
    fn a_bad_inbox_path_or_library_does_not_add_an_overlap_error() {
        let err = Config::parse("library = 3\n[[inbox]]\npath = \"/l\"\nmode = \"x\"\n", Path::new("/c/c.toml"));
        let keys: Vec<String> = err
            .unwrap_err()
            .problems()
            .iter()
            .filter_map(|e| if let ConfigError::Invalid { key, .. } = e { Some(key.clone()) } else { None })
            .collect();
        assert_eq!(keys, ["library", "inbox[0].mode"]);
    }

    #[test]
    fn dedup_prefer_names_formats_and_refuses_what_is_not_one() {
        let cfg = Config::parse("[dedup]\nprefer = [\"HEIC\", \"raw\"]\n", Path::new("/c/c.toml")).unwrap();
        assert_eq!(cfg.dedup_prefer, vec!["heic".to_string(), "raw".to_string()]);
        assert_eq!(cfg.value_of("dedup.prefer").unwrap(), "[\"heic\", \"raw\"]");
        assert!(Config::defaults().dedup_prefer.is_empty());
        match Config::parse("[dedup]\nprefer = [\"heic\", \"mp3\"]\n", Path::new("/c/c.toml")) {
            Err(ConfigError::Invalid { line: 2, key, message, .. }) => {
                assert_eq!(key, "dedup.prefer");
                assert!(message.contains("\"mp3\" is not a format; known: raw, heic"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layout_undated_is_validated_like_layout() {
        let cfg = Config::parse("layout_undated = \"{year}/unsorted\"\n", Path::new("/c/c.toml")).unwrap();
        assert_eq!(cfg.layout_undated, "{year}/unsorted");
        assert_eq!(Config::defaults().layout_undated, "undated");
        match Config::parse("\nlayout_undated = \"../{yaer}\"\n", Path::new("/c/c.toml")) {
            Err(ConfigError::Invalid { line: 2, key, message, .. }) => {
                assert_eq!(key, "layout_undated");
                assert!(message.contains("{yaer}"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn edit_warnings_name_version_control_and_another_owner() {
        let t = tempfile::tempdir().unwrap();
        let nested = t.path().join("dotfiles/clean-backup");
        std::fs::create_dir_all(&nested).unwrap();
        let file = nested.join("config.toml");
        std::fs::write(&file, "").unwrap();
        assert_eq!(edit_warnings(&file), Vec::<String>::new());
        // A `.git` file (a worktree's) counts as much as a folder; a file not yet there too.
        std::fs::write(t.path().join("dotfiles/.git"), "gitdir: elsewhere\n").unwrap();
        for path in [file.clone(), nested.join("new/config.toml")] {
            let w = edit_warnings(&path);
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(w[0].starts_with(&format!("{} is under version control (git", path.display())), "{w:?}");
            assert!(w[0].contains("not committed"), "{w:?}");
        }
        std::fs::create_dir(nested.join(".hg")).unwrap();
        assert!(edit_warnings(&file)[0].contains("(mercurial"), "the nearest working copy is named");

        // A file someone else owns: as root, one made for uid 1000; else one of root's.
        let me = rustix::process::geteuid().as_raw();
        let theirs = if me == 0 {
            let f = t.path().join("alice.toml");
            std::fs::write(&f, "").unwrap();
            std::os::unix::fs::chown(&f, Some(1000), None).unwrap();
            f
        } else {
            PathBuf::from("/etc/passwd")
        };
        let owner = if me == 0 { 1000 } else { 0 };
        let w = edit_warnings(&theirs);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with(&format!("{} is owned by uid {owner}", theirs.display())), "{w:?}");
        assert!(w[0].contains("not you (") && w[0].contains("chown "), "{w:?}");
    }
}
