//! clean-backup keeps a photo and video library organized by itself.
//!
//! Module map (read this first):
//!
//! - [`access`]: who is asking (peer credentials) and what they may read or
//!   change: the daemon checks jobs against its caller's rights, never its own.
//! - [`config`]: the TOML config: where it is found, defaults, validation that
//!   names the key and line, and in-place edits that keep comments.
//! - [`media`]: what a file is (sniffed from magic bytes) and when it was
//!   taken (EXIF, QuickTime, file name, mtime, in that order).
//! - [`phash`]: the 64-bit DCT perceptual hash (imagehash-compatible) and its distance.
//! - [`fsops`]: the only code that touches user files: rename or
//!   copy-verify-rename, never overwriting, fsync'd, mtime and mode kept.
//! - [`store`]: the only code that touches SQLite: schema and migrations,
//!   sessions and the write-ahead journal of file operations.
//! - [`journal`]: sessions, ops planned before they happen and done after,
//!   crash recovery on start-up, and undo.
//! - [`engine`]: the jobs (organize today) and the progress events they emit.
//! - [`daemon`]: `clean-backupd`: polls the inboxes and files settled media.
//! - [`marker`]: the library's marker file (is this folder the library, or an
//!   empty mount point?) and the daily journal backups kept beside it.
//! - [`layout`]: the `layout` template that turns a capture date into a folder.
//!
//! The binaries `cbctl` and `clean-backupd` are thin shells over this crate.

#![warn(missing_docs)]

pub mod access;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod docs;
pub mod engine;
pub mod fsops;
pub mod journal;
pub mod layout;
pub mod marker;
pub mod media;
pub mod names;
pub mod phash;
pub mod review;
pub mod store;
