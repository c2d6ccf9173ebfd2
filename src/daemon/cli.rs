//! The command line of `clean-backupd`, here rather than in the binary so
//! that its man page can be generated from it (`cbctl generate-docs`).

use std::path::PathBuf;

/// `clean-backupd`'s arguments.
#[derive(clap::Parser, Debug)]
#[command(
    name = "clean-backupd",
    version,
    about = "Watch inbox folders and file new photos and videos into the library",
    long_about = "Watch inbox folders and file new photos and videos into the library.\n\n\
        Each file is filed once it has stopped changing for `watch.settle_seconds`: by its capture date \
        into <library>/<layout> (default YYYY/MM), or left in the inbox (or quarantined) when the library \
        already has it, byte for byte or as the same picture. Every move is journaled first, so a crash \
        at any moment is repaired at the next start and `cbctl undo` can put files back.\n\n\
        With no config file it watches ~/Pictures/Inbox and files into ~/Pictures/Library. \
        Control it with cbctl(1) over the socket in its state folder, or on D-Bus as org.cleanbackup.Daemon1.\n\n\
        Signals: SIGHUP re-reads the config (inboxes added and removed at once); SIGTERM and SIGINT \
        finish the file in hand and exit 0. Under systemd it reports READY, STATUS and WATCHDOG \
        (Type=notify) and logs to the journal.",
    after_long_help = "Exit status: 0 after a clean stop or a valid --check-config; 2 when the config \
        or state is unusable (the message names the file, line and key).\n\n\
        Files: $XDG_CONFIG_HOME/clean-backup/config.toml (the user's config), /etc/clean-backup/config.toml \
        (the system service's), $XDG_STATE_HOME/clean-backup or /var/lib/clean-backup (journal database, \
        lock, control socket).\n\n\
        Environment: CLEAN_BACKUP_LOG sets the log filter (e.g. debug); CLEAN_BACKUP_CONFIG names the config file.\n\n\
        See also: cbctl(1), clean-backup.toml(5), systemctl(1)."
)]
pub struct Args {
    /// Config file (default: $XDG_CONFIG_HOME/clean-backup/config.toml, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory (journal database, lock, control socket); overrides the config.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Validate a config (FILE, else --config, else the default) and print the resolved
    /// settings (paths, inboxes, threshold, ...) without starting; exit 2 if it is not valid.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub check_config: Option<Option<PathBuf>>,
    /// Start with this state although the library's marker names another
    /// journal that is gone (deleted or emptied): accepts that its history,
    /// and every undo of it, is lost. Only needed once.
    #[arg(long)]
    pub new_state: bool,
}
