//! Manual pages and shell completions, generated from the clap definitions
//! (clap_mangen, clap_complete) and, for clean-backup.toml(5), from
//! [`KEY_DOCS`], which a test holds to the real defaults and to
//! `config.example.toml`. `cbctl completions SHELL` prints a completion
//! script; `cbctl generate-docs DIR` writes them all for packaging.

use std::io::Write;

use clap_complete::Shell;
use roff::{bold, italic, roman, Roff};

/// One config key, documented.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// Dotted key, as `cbctl config get` takes it (`inbox.N.path` for the Nth inbox).
    pub key: &'static str,
    /// Its default, as written in TOML (`~` is the home folder).
    pub default: &'static str,
    /// What it does and the values it takes.
    pub doc: &'static str,
}

/// Every key of clean-backup.toml, in the order of `config.example.toml`.
pub const KEY_DOCS: &[KeyDoc] = &[
    KeyDoc {
        key: "library",
        default: "\"~/Pictures/Library\"",
        doc: "Where filed media lives. A relative path resolves against the config file's folder.",
    },
    KeyDoc {
        key: "state_dir",
        default: "\"~/.local/state/clean-backup\"",
        doc: "The journal database, lock file and control socket ($XDG_STATE_HOME/clean-backup). \
              Must differ from library. The system service uses /var/lib/clean-backup.",
    },
    KeyDoc {
        key: "layout",
        default: "\"{year}/{month:02}\"",
        doc: "The folder for each file under the library, from its capture date. Fields: {year} {month} \
              {month:02} {month_name} (English) {day} {day:02} {camera}.",
    },
    KeyDoc {
        key: "layout_undated",
        default: "\"undated\"",
        doc: "The folder, under the library, for files with no date of their own (none in the file's \
              metadata, none in its name): they would otherwise be filed by their mtime, often the day they \
              were copied, among the photos of that month. Same fields as layout, filled from the mtime; \
              \"{year}/{month:02}\" files them with the dated ones. `cbctl date FILE` shows their source as mtime.",
    },
    KeyDoc {
        key: "read_back_copies",
        default: "false",
        doc: "How a file copied to another filesystem (an inbox on one disk, the library on a NAS) is \
              checked before its source goes: false hashes the bytes as they are written, then syncs the \
              copy to disk (the file is read once); true also reads the copy back in full and hashes it \
              again. Moves within one filesystem are renames and read nothing.",
    },
    KeyDoc {
        key: "inbox.N.path",
        default: "\"~/Pictures/Inbox\"",
        doc: "A folder watched for new media; repeat [[inbox]] for more. With no config file at all one \
              inbox, ~/Pictures/Inbox, is used; a config file without [[inbox]] watches nothing. \
              An inbox and the library must not contain each other.",
    },
    KeyDoc {
        key: "inbox.N.mode",
        default: "\"move\"",
        doc: "\"move\" files media out of the inbox; \"copy\" leaves the inbox as it is (for a folder a \
              sync tool mirrors both ways) and remembers what it copied.",
    },
    KeyDoc {
        key: "watch.settle_seconds",
        default: "5",
        doc: "A file is filed only after its size and mtime have not changed for this many seconds \
              (1 to 3600), so a file still being synced is never moved half-written.",
    },
    KeyDoc {
        key: "watch.pair_seconds",
        default: "30",
        doc: "How long a settled file waits for the file that belongs with it (0 to 3600): a Live \
              Photo's video often arrives after its still, a sidecar before or after its photo. They \
              are filed together; one that comes later still goes beside the other.",
    },
    KeyDoc {
        key: "dedup.perceptual",
        default: "true",
        doc: "Also match resized or re-encoded copies by perceptual hash, not only identical bytes.",
    },
    KeyDoc {
        key: "dedup.threshold",
        default: "6",
        doc: "The largest pHash Hamming distance (0 to 32) that counts as the same picture, or a preset: \
              \"exact\" (2), \"standard\" (6), \"aggressive\" (10).",
    },
    KeyDoc {
        key: "dedup.names",
        default: "true",
        doc: "Treat operating-system copy names (\"IMG (1).jpg\", \"x - Copy.jpg\") as duplicate hints when \
              choosing which copy to keep.",
    },
    KeyDoc {
        key: "dedup.prefer",
        default: "[]",
        doc: "Formats to keep first among copies of the same picture at the same resolution, before file \
              size decides: for example [\"heic\", \"raw\"] keeps an iPhone's HEIC over a larger JPEG export. \
              Names: raw, heic, heif, avif, jxl, jp2, png, tiff, webp, jpeg, gif, bmp. Empty: the built-in order, after \
              size (RAW, then HEIC/AVIF/PNG/TIFF/WebP, then JPEG). A camera original (its capture date \
              embedded) is always kept over a copy that lost it.",
    },
    KeyDoc {
        key: "dedup.protect",
        default: "[]",
        doc: "Folders whose files are never the ones set aside: a copy under one of them is kept over any \
              copy elsewhere, and `cbctl dedup --action move|delete` leaves them where they are (a group whose \
              copies are all protected is only reported). Relative paths are relative to the config file.",
    },
    KeyDoc {
        key: "dedup.on_duplicate",
        default: "\"skip\"",
        doc: "What filing does with an exact duplicate (the same bytes or the same pixels) of a library file, \
              or a deletion remembered (deleted before and pruned, arriving again): \"skip\" leaves it in the \
              inbox, remembered across restarts, until it changes or `cbctl rescan`; \"quarantine\" moves it \
              to <library>/.clean-backup-duplicates/, journaled, so `cbctl undo` brings it back. Copy-mode \
              inboxes are never changed, so their duplicates are skipped.",
    },
    KeyDoc {
        key: "dedup.on_similar",
        default: "\"quarantine\"",
        doc: "What filing does with a similar copy: the same capture as a library file (or a better copy in \
              the same batch) by its picture, resized, re-encoded, converted or rotated, but not the same \
              bytes or pixels. \"quarantine\" moves it to <library>/.clean-backup-duplicates/, journaled \
              (`cbctl skipped` lists it, `cbctl keep FILE` files it after all); \"skip\" leaves it in the \
              inbox; \"file\" files it like any other photo. Shots of a burst, an exposure bracket or an HDR \
              pair are different captures, never similar. Copy-mode inboxes are never changed, so there \
              \"quarantine\" leaves it in place.",
    },
    KeyDoc {
        key: "compress.enabled",
        default: "false",
        doc: "Compress JPEG and PNG photos as they are filed: the smaller copy goes into the library and the \
              original into the library trash (journaled; `cbctl undo` restores it, `cbctl prune` empties \
              the trash). A photo that would not get smaller is filed as it is; videos are filed as they are.",
    },
    KeyDoc {
        key: "compress.level",
        default: "2",
        doc: "1 high quality (JPEG q95, H.264 CRF 18), 2 balanced (q85, CRF 23), 3 maximum (q75, CRF 28). \
              Also the default of `cbctl compress --level`.",
    },
    KeyDoc {
        key: "control.dbus",
        default: "\"session\"",
        doc: "Where the daemon offers org.cleanbackup.Daemon1: \"session\" (the user's bus), \"system\" \
              (the system service; see the policy in /usr/share/dbus-1/system.d/) or \"off\". cbctl uses \
              the control socket either way.",
    },
    KeyDoc {
        key: "control.allow_users",
        default: "[]",
        doc: "Users (names or uids) who may, besides root and the daemon's own user, pause, undo, prune, \
              change the config and submit jobs. Anyone who can reach the socket may ask for status, \
              history and why. Jobs always run with the caller's own rights, never the daemon's.",
    },
    KeyDoc {
        key: "control.allow_groups",
        default: "[]",
        doc: "Groups (names or gids) whose members may do what control.allow_users may.",
    },
    KeyDoc {
        key: "control.job_roots",
        default: "[]",
        doc: "Folders, besides the library and the inboxes, that jobs sent to the daemon (organize, dedup, \
              compress) may read or change. A job on any other folder is refused; use cbctl --local to run \
              it as yourself.",
    },
];

/// One example of a manual page: a command line and what it does.
pub type Example = (&'static str, &'static str);

/// The EXAMPLES of a manual page, by its name without section (`cbctl`,
/// `cbctl-config-set`, `clean-backupd`, `clean-backup.toml`); empty for a
/// page nobody wrote examples for (a test holds every page to having some).
pub fn examples(page: &str) -> &'static [Example] {
    match page {
        "cbctl" => &[
            ("cbctl status", "What the daemon is doing: its inboxes, what it filed today and any problem."),
            (
                "cbctl organize --dry-run ~/Downloads/phone ~/Pictures/Library",
                "Show where each photo would go, touching nothing.",
            ),
            (
                "cbctl organize ~/Downloads/phone ~/Pictures/Library",
                "File them into YEAR/MONTH folders by capture date (moved; --copy keeps them).",
            ),
            ("cbctl undo --last", "Put back every file the last session moved."),
            (
                "cbctl why ~/Pictures/Inbox/IMG_1234.jpg",
                "Say why a file was left in the inbox (a duplicate of which library file).",
            ),
            ("cbctl --json date *.jpg | jq .source", "Which source each capture date came from, for a script."),
        ],
        "cbctl-status" => &[
            ("cbctl status", "Inboxes, queue, files filed, skipped and failed today and in total, and the last error."),
            ("cbctl --json status | jq .today", "Today's counts, for a script or a monitoring check."),
        ],
        "cbctl-pause" => &[
            ("cbctl pause", "Stop filing while you sort an inbox by hand; files stay where they are."),
            ("sudo cbctl --config /etc/clean-backup/config.toml pause", "Pause the system service."),
        ],
        "cbctl-resume" => &[("cbctl resume", "File again what arrived while paused.")],
        "cbctl-rescan" => &[
            ("cbctl rescan", "Look at every inbox file again, e.g. after raising dedup.threshold."),
            ("cbctl rescan --undone", "Also file again the files an undo put back into the inboxes."),
        ],
        "cbctl-history" => &[
            ("cbctl history", "The last 20 sessions: id, kind, time and counts."),
            ("cbctl history --limit 5", "Only the last 5, to find the session to undo."),
        ],
        "cbctl-undo" => &[
            ("cbctl undo --last", "Put back the files of the newest session that still has files in place."),
            (
                "cbctl undo 42",
                "Undo session 42 (ids from cbctl history); files changed since are left alone and reported.",
            ),
        ],
        "cbctl-organize" => &[
            (
                "cbctl organize --dry-run ~/Downloads/phone ~/Pictures/Library",
                "Show where each file would go; touch nothing.",
            ),
            (
                "cbctl organize --copy /media/sdcard/DCIM ~/Pictures/Library",
                "Copy a card into the library, leaving the card as it is.",
            ),
            (
                "cbctl organize --threshold exact ~/old-backup ~/Pictures/Library",
                "Move them in; only near-identical pictures count as duplicates.",
            ),
        ],
        "cbctl-dedup" => &[
            (
                "cbctl dedup ~/Pictures/Library",
                "Report each group of duplicates and which copy is kept; change nothing.",
            ),
            (
                "cbctl dedup --action move --to ~/dupes ~/Pictures/Library",
                "Move every copy but the best to ~/dupes, keeping their relative paths.",
            ),
            (
                "cbctl dedup --exact --action delete ~/Pictures/Library",
                "Send byte-identical copies to the trash (cbctl undo brings them back); nothing is decoded, \
                 only files that share a size are read.",
            ),
            (
                "cbctl dedup --exact --all-files ~/Downloads",
                "Report byte-identical copies of any kind of file, not only photos and videos.",
            ),
            (
                "cbctl dedup --report html --out dupes.html ~/Pictures/Library",
                "The groups as one self-contained page with thumbnails, to look at or share; read-only.",
            ),
        ],
        "cbctl-review" => &[
            (
                "cbctl review ~/Pictures/Import",
                "Look at the folder's duplicate groups side by side in a browser, then keep both, pick another \
                 keeper, or move the duplicates to the trash; `u` on the page undoes.",
            ),
            ("cbctl review --open", "The files the daemon set aside, opened in the desktop's browser."),
            (
                "cbctl review --port 8765 --idle 10 ~/Pictures",
                "A fixed port (for an SSH tunnel: ssh -L 8765:127.0.0.1:8765 server), stopping after 10 idle minutes.",
            ),
        ],
        "cbctl-compress" => &[
            (
                "cbctl compress ~/Pictures/Library ~/smaller",
                "Smaller copies of every photo and video (level 2); originals untouched.",
            ),
            (
                "cbctl compress --level 1 --images ~/Pictures/Library ~/share",
                "High-quality JPEG copies of the photos only.",
            ),
        ],
        "cbctl-date" => &[
            (
                "cbctl date IMG_1234.jpg",
                "The capture date and its source (exif, quicktime, filename, or mtime when the file has none).",
            ),
            ("cbctl --json date ~/Pictures/Inbox/*", "One JSON object per file, for a script."),
        ],
        "cbctl-hash" => {
            &[("cbctl hash a.jpg b.jpg", "The perceptual hash of each; hashes a few bits apart are the same picture.")]
        }
        "cbctl-prune" => &[
            (
                "cbctl prune --dry-run",
                "List what the trash holds from over 30 days ago (the default age); remove nothing.",
            ),
            (
                "cbctl prune",
                "Remove for good what went to the trash (dedup --action delete, compression) or the duplicates \
                 folder over 30 days ago, after listing it and asking; the same bytes arriving again are set aside \
                 as deleted before.",
            ),
            (
                "cbctl prune --older-than 0 --yes",
                "Empty the whole trash now without asking (for scripts); those files can no longer be undone.",
            ),
        ],
        "cbctl-generate-docs" => &[(
            "cbctl generate-docs target/docs",
            "Write the man pages to target/docs/man/ and the bash, zsh and fish completions to \
             target/docs/completions/, as the .deb ships them.",
        )],
        "cbctl-why" => &[
            (
                "cbctl why ~/Pictures/Inbox/IMG_1234.jpg",
                "Why it is still in the inbox: the library file it duplicates and how close.",
            ),
            (
                "cbctl why ~/Pictures/Library/2023/05/IMG_0001.jpg",
                "When it was filed, from where, by which date and session.",
            ),
        ],
        "cbctl-skipped" => &[
            (
                "cbctl skipped",
                "Every file set aside as a duplicate: exact, similar or deleted before, where it is, its keeper, \
                 and the `cbctl keep` command that files it anyway.",
            ),
            ("cbctl --json skipped", "One JSON object per file, then a summary, for a script."),
        ],
        "cbctl-keep" => &[
            (
                "cbctl keep ~/Pictures/Inbox/IMG_1234.jpg",
                "File a copy left in the inbox after all; it is never called a duplicate of its keeper again. \
                 `cbctl undo` puts it back.",
            ),
            (
                "cbctl keep ~/Pictures/Library/.clean-backup-duplicates/DCIM/IMG_1234.jpg",
                "File one that was moved to the duplicates folder.",
            ),
        ],
        "cbctl-not-duplicate" => &[(
            "cbctl not-duplicate ~/Pictures/Inbox/IMG_1234.jpg ~/Pictures/Library/2023/05/IMG_1230.jpg",
            "Two frames taken a moment apart, not copies: neither is set aside for the other again, and the \
             daemon files the one it had left in the inbox.",
        )],
        "cbctl-prefer" => &[(
            "cbctl prefer ~/Pictures/Library/2023/05/IMG_1230-edit.jpg",
            "Keep the edited copy, not the bigger original: dedup and filing pick it as the keeper of its \
             group from now on. `cbctl undo --last` takes the choice back.",
        )],
        "cbctl-forget" => &[(
            "cbctl forget ~/Pictures/Inbox/IMG_0042.jpg",
            "A photo deleted and pruned before, arriving again from a phone sync: file it like a new one.",
        )],
        "cbctl-completions" => &[
            ("cbctl completions bash > ~/.local/share/bash-completion/completions/cbctl", "Tab completion in bash."),
            ("cbctl completions zsh > ~/.zfunc/_cbctl", "Tab completion in zsh (with ~/.zfunc in fpath)."),
        ],
        "cbctl-config" => &[
            ("cbctl config get", "The whole resolved config, defaults included."),
            (
                "cbctl config set dedup.threshold standard",
                "Change a key, keeping the file's comments; a running daemon applies it at once.",
            ),
        ],
        "cbctl-config-get" => &[
            ("cbctl config get", "Every setting as the daemon would use it, as TOML."),
            ("cbctl config get library", "Only the library folder."),
        ],
        "cbctl-config-set" => &[
            ("cbctl config set dedup.threshold exact", "Count only near-identical pictures as duplicates."),
            ("cbctl config set layout '{year}/{month:02}/{day:02}'", "File into a folder per day from now on."),
            ("cbctl config set inbox.1.path ~/Sync/Phone", "Add a second inbox (inbox.0 is the first)."),
        ],
        "clean-backupd" => &[
            (
                "clean-backupd --check-config ~/.config/clean-backup/config.toml",
                "Check a config: every problem with its line and key, or the resolved settings.",
            ),
            ("systemctl --user enable --now clean-backupd", "Run it as your user service, started at login."),
            ("systemctl --user reload clean-backupd", "Re-read the config (SIGHUP) after editing it."),
            (
                "CLEAN_BACKUP_LOG=debug clean-backupd --config config.example.toml",
                "Run it in the foreground on the example config, logging every decision.",
            ),
        ],
        "clean-backup.toml" => &[
            (
                "cbctl config set layout_undated '{year}/{month:02}'",
                "File the files with no date of their own by their mtime, among the dated ones.",
            ),
            ("cbctl config set inbox.1.path ~/Sync/Phone", "Add a second inbox."),
            (
                "clean-backupd --check-config ~/.config/clean-backup/config.toml",
                "Check the file after editing it by hand.",
            ),
            (
                "sudoedit /etc/clean-backup/config.toml && sudo systemctl reload clean-backupd",
                "Change the system service's config and apply it.",
            ),
        ],
        _ => &[],
    }
}

/// The EXIT STATUS of a manual page (named as for [`examples`]): each code and what it means there.
pub fn exit_status(page: &str) -> Vec<(u8, &'static str)> {
    const OK: (u8, &str) = (0, "Success.");
    const FILES: (u8, &str) = (
        1,
        "Some files failed: each is named with the reason on stderr (with --json, in an object of its own), \
         and the rest were done.",
    );
    const USAGE: (u8, &str) = (
        2,
        "A usage or config error: a bad option or argument, or a config file with a bad key or value \
         (named with its line). Nothing was changed.",
    );
    match page {
        "cbctl" => vec![
            OK,
            FILES,
            USAGE,
            (3, "The daemon is not running (status, pause, resume and rescan need it; the other commands then work here)."),
        ],
        "cbctl-status" | "cbctl-pause" | "cbctl-resume" | "cbctl-rescan" => vec![
            OK,
            (1, "The daemon refused or failed the request; the message says why (e.g. permission denied)."),
            USAGE,
            (3, "The daemon is not running: start it (systemctl --user start clean-backupd)."),
        ],
        "cbctl-undo" => vec![
            OK,
            (1, "Some files could not be put back (changed or replaced since); each is reported and left alone."),
            (2, "No such session, nothing left to undo, or a usage or config error. Nothing was changed."),
        ],
        "cbctl-why" => vec![OK, (1, "Some files are unknown to clean-backup; each is reported."), USAGE],
        "cbctl-skipped" => vec![OK, (1, "The journal could not be read; the message says why."), USAGE],
        "cbctl-keep" => vec![
            OK,
            (1, "Some files could not be filed (unreadable, no room); each is reported with the reason."),
            (
                2,
                "A file that is not there or was not set aside (see `cbctl skipped`), a caller who may not change \
                 files, or a usage or config error. Nothing was changed for that file.",
            ),
        ],
        "cbctl-not-duplicate" => vec![
            OK,
            (1, "A file could not be read; the message says why."),
            (2, "A file that is not there, a caller who may not change files, or a usage or config error. Nothing was changed."),
        ],
        "cbctl-review" => vec![
            OK,
            (1, "The folder could not be reviewed (its dedup report failed); the message says why."),
            (2, "No such folder, the port is taken, or a usage or config error. Nothing was changed."),
        ],
        "cbctl-prefer" => vec![
            OK,
            (1, "The file could not be read; the message says why."),
            (2, "The file is not there, the caller may not change files, or a usage or config error. Nothing was changed."),
        ],
        "cbctl-forget" => vec![
            OK,
            (1, "The file could not be read; the message says why."),
            (
                2,
                "No deletion of the file's content is remembered, the file is not there, the caller may not change \
                 files, or a usage or config error. Nothing was changed.",
            ),
        ],
        "cbctl-config-get" => vec![OK, (2, "An unknown key, or a config file that cannot be read or is not valid.")],
        "cbctl-config" | "cbctl-config-set" => vec![
            OK,
            (1, "The running daemon could not write its config file; the message says how to change it instead."),
            (
                2,
                "An unknown key, a bad value, a library or inbox that may not be one, or a config file that \
                 cannot be read or written (the message says how to fix it). The file is unchanged.",
            ),
        ],
        "cbctl-completions" => vec![OK, (2, "An unknown shell.")],
        "cbctl-generate-docs" => vec![
            OK,
            (1, "A page or script could not be written (the reason is printed)."),
            (2, "No DIR was given."),
        ],
        "clean-backupd" => vec![
            (0, "A clean stop (SIGTERM or SIGINT), or a valid config with --check-config."),
            (
                2,
                "A usage error, a config that is not valid (every problem listed with its file, line and key), \
                 or a state that cannot be used (the journal locked by another clean-backupd, a library filed \
                 by a journal that is gone: see --new-state). Nothing was filed.",
            ),
        ],
        "clean-backup.toml" => vec![
            (0, "clean-backupd --check-config: the file is valid; its resolved settings are printed."),
            (
                2,
                "clean-backupd --check-config, and clean-backupd at start: the file is not valid; every problem is \
                 listed with its line and key. cbctl config set exits 2 too on a bad value, leaving the file unchanged.",
            ),
        ],
        _ => vec![OK, FILES, USAGE],
    }
}

/// `.SH EXAMPLES` and `.SH "EXIT STATUS"` of `page`, as roff.
fn examples_and_exit_status(r: &mut Roff, page: &str) {
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit_status(page) {
        r.control("TP", [] as [&str; 0]);
        r.text([bold(code.to_string())]);
        r.text([roman(meaning)]);
    }
    r.control("SH", ["EXAMPLES"]);
    for (command, what) in examples(page) {
        r.control("TP", [] as [&str; 0]);
        r.text([bold(*command)]);
        r.text([roman(*what)]);
    }
}

/// The example config shipped with the package, shown in clean-backup.toml(5).
pub const EXAMPLE_CONFIG: &str = include_str!("../config.example.toml");

/// Manual pages: `(file name, roff)`: cbctl(1) and one page per subcommand
/// (cbctl-organize(1), ...), clean-backupd(8), clean-backup.toml(5).
pub fn man_pages(cbctl: clap::Command, daemon: clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    let mut cbctl = cbctl.disable_help_subcommand(true);
    cbctl.build();
    let mut subs: Vec<clap::Command> = cbctl.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();
    while let Some(sub) = subs.pop() {
        subs.extend(sub.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        pages.push(page(sub, "1"));
    }
    pages.push(page(cbctl, "1"));
    let mut daemon = daemon;
    daemon.build();
    pages.push(page(daemon, "8"));
    pages.push(("clean-backup.toml.5".to_string(), config_page().into_bytes()));
    pages.sort();
    pages
}

/// One command's page: clap_mangen's sections, with the command's
/// `after_long_help` (exit status, files, environment, see also) as NOTES.
fn page(cmd: clap::Command, section: &str) -> (String, Vec<u8>) {
    let notes = cmd.get_after_long_help().map(|h| h.to_string());
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subs = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let has_version = cmd.get_version().or(cmd.get_long_version()).is_some();
    let man = clap_mangen::Man::new(cmd).section(section).manual("clean-backup").source("clean-backup");
    let file = man.get_filename();
    let name = file.strip_suffix(&format!(".{section}")).unwrap_or(&file).to_string();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    if has_args {
        let _ = man.render_options_section(&mut out);
    }
    if has_subs {
        let _ = man.render_subcommands_section(&mut out);
    }
    let mut r = Roff::new();
    examples_and_exit_status(&mut r, &name);
    let _ = r.to_writer(&mut out);
    if let Some(notes) = notes {
        let mut r = Roff::new();
        r.control("SH", ["NOTES"]);
        for para in notes.split("\n\n") {
            r.control("PP", [] as [&str; 0]);
            r.text([roman(para)]);
        }
        let _ = r.to_writer(&mut out);
    }
    if has_version {
        let _ = man.render_version_section(&mut out);
    }
    (file, out)
}

/// clean-backup.toml(5).
pub fn config_page() -> String {
    let mut r = Roff::new();
    r.control("TH", ["clean-backup.toml", "5", "", "clean-backup", "clean-backup"]);
    r.control("SH", ["NAME"]);
    r.text([roman("clean-backup.toml - configuration of clean-backupd and cbctl")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        italic("$XDG_CONFIG_HOME/clean-backup/config.toml"),
        roman(" (a user's, ~/.config/clean-backup/config.toml)"),
    ]);
    r.control("br", [] as [&str; 0]);
    r.text([italic("/etc/clean-backup/config.toml"), roman(" (the system service's)")]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "A TOML file read by clean-backupd(8) at start and on SIGHUP, and by cbctl(1). Every key is optional and \
         takes the default below when left out; with no file at all the daemon files ~/Pictures/Inbox into \
         ~/Pictures/Library. Relative paths resolve against the folder of the file; ~ is the home folder. \
         An unknown key or a bad value is an error that names the file, line and key. ",
    )]);
    r.text([bold("clean-backupd --check-config FILE"), roman(" validates a file and prints the resolved settings; ")]);
    r.text([
        bold("cbctl config get"),
        roman(" and "),
        bold("cbctl config set KEY VALUE"),
        roman(" read and edit it, keeping comments (a running daemon applies a change at once)."),
    ]);
    r.control("SH", ["KEYS"]);
    for k in KEY_DOCS {
        r.control("TP", [] as [&str; 0]);
        r.text([bold(k.key.replace("inbox.N.", "[[inbox]] ")), roman(" (default "), italic(k.default), roman(")")]);
        r.text([roman(k.doc)]);
    }
    examples_and_exit_status(&mut r, "clean-backup.toml");
    r.control("PP", [] as [&str; 0]);
    r.text([roman("The example config shipped in /usr/share/doc/clean-backup/examples/config.example.toml:")]);
    r.control("PP", [] as [&str; 0]);
    r.control("nf", [] as [&str; 0]);
    r.control("RS", ["4"]);
    for line in EXAMPLE_CONFIG.lines() {
        r.text([roman(line)]);
        r.control("br", [] as [&str; 0]);
    }
    r.control("RE", [] as [&str; 0]);
    r.control("fi", [] as [&str; 0]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("clean-backupd(8), cbctl(1)")]);
    r.render()
}

/// The completion script of `cmd` for `shell`.
pub fn completion(shell: Shell, cmd: &mut clap::Command) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, cmd, name, &mut out);
    let _ = out.flush();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, KEYS};

    #[test]
    fn every_config_key_is_documented_with_its_real_default() {
        let documented: Vec<&str> = KEY_DOCS.iter().map(|k| k.key).collect();
        assert_eq!(documented, KEYS, "KEY_DOCS and config::KEYS list the same keys in the same order");
        let defaults = Config::defaults();
        let home = std::env::var("HOME").unwrap_or_default();
        for k in KEY_DOCS {
            let key = k.key.replace(".N.", ".0.");
            let real = defaults.value_of(&key).unwrap();
            let doc = k.default.trim_matches('"').replacen('~', &home, 1);
            if k.key == "state_dir" && std::env::var_os("XDG_STATE_HOME").is_some() {
                continue;
            }
            assert_eq!(real, doc, "the documented default of {} is not the real one", k.key);
            // The example config states the same default on the key's line or in the comment just above it.
            let leaf = k.key.rsplit('.').next().unwrap_or(k.key);
            let lines: Vec<String> = EXAMPLE_CONFIG.lines().map(str::to_lowercase).collect();
            let states = |l: &String| {
                let d = k.default.to_lowercase();
                l.contains(&format!("default {d}")) || l.contains(&format!("default: {d}"))
            };
            let is_key =
                |l: &String| l.trim_start().strip_prefix(leaf).is_some_and(|r| r.trim_start().starts_with('='));
            let said =
                (0..lines.len()).any(|i| states(&lines[i]) && lines[i..lines.len().min(i + 3)].iter().any(is_key));
            assert!(said, "config.example.toml does not state the default of {} ({})", k.key, k.default);
        }
    }

    #[test]
    fn the_config_page_lists_every_key_and_the_example() {
        let page = config_page();
        for k in KEY_DOCS {
            let shown = k.key.replace("inbox.N.", "[[inbox]] ");
            assert!(page.contains(&shown), "{shown} is not in the page");
        }
        assert!(page.contains("on_duplicate"));
        assert!(page.contains("\n.TH clean-backup.toml 5"), "{page}");
    }
}
