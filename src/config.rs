//! The TOML config: where it is found, defaults, validation, in-place edits.
//!
//! (Stub: being written. Public API below is fixed; bodies are filled in.)

use std::path::{Path, PathBuf};

/// Config errors; each names the file, and the key and line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key or a bad value.
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    /// `config get/set` on a key that does not exist.
    #[error("unknown config key `{0}` (see config.example.toml for the keys)")]
    NoSuchKey(String),
}

/// Inbox mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Move,
    Copy,
}

/// One `[[inbox]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbox {
    pub path: PathBuf,
    pub mode: Mode,
}

/// What to do with a duplicate arriving in an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    Skip,
    Quarantine,
}

/// D-Bus bus choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbusMode {
    Session,
    System,
    Off,
}

/// The resolved config (paths expanded, defaults applied).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from, if any.
    pub source: Option<PathBuf>,
    pub library: PathBuf,
    pub state_dir: PathBuf,
    pub layout: String,
    pub inbox: Vec<Inbox>,
    pub settle_seconds: u64,
    pub dedup_perceptual: bool,
    pub dedup_threshold: u32,
    pub dedup_names: bool,
    pub on_duplicate: OnDuplicate,
    pub compress_enabled: bool,
    pub compress_level: u8,
    pub dbus: DbusMode,
}

impl Config {
    /// Defaults for the current user (XDG paths, ~/Pictures).
    pub fn defaults() -> Config {
        todo!()
    }
    /// Loads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let _ = path;
        todo!()
    }
    /// The config file to use: `explicit`, else $CLEAN_BACKUP_CONFIG, else
    /// $XDG_CONFIG_HOME/clean-backup/config.toml if it exists, else /etc/clean-backup/config.toml
    /// if it exists. `None` = no file; run on defaults.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        let _ = explicit;
        todo!()
    }
    /// `locate` then `load`, or defaults when there is no file.
    pub fn load_or_default(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let _ = explicit;
        todo!()
    }
}

/// `cbctl config get [KEY]`: the resolved value of a dotted key (`dedup.threshold`),
/// or with `None` the whole resolved config, as TOML text.
/// Reads `path` if it exists, else the defaults.
pub fn get(path: &Path, key: Option<&str>) -> Result<String, ConfigError> {
    let _ = (path, key);
    todo!()
}

/// `cbctl config set KEY VALUE`: edits `path` in place keeping comments and
/// layout (toml_edit), creating the file if needed. The value is parsed as a
/// TOML value when it parses, else taken as a string; the edited file must
/// validate before it is written (atomically, via fsops).
pub fn set(path: &Path, key: &str, value: &str) -> Result<(), ConfigError> {
    let _ = (path, key, value);
    todo!()
}

/// Where `config set` writes when no file exists yet: $XDG_CONFIG_HOME/clean-backup/config.toml.
pub fn user_config_path() -> PathBuf {
    todo!()
}
