//! What the daemon reports in `status` and how its filing waits: the
//! counters of files handled today and since start, the library and inbox
//! problems it is waiting out, and the back-off after a failure that would
//! repeat (a full disk).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::control::{Counts, Emitter};

/// The first wait after a failure that would repeat (no space left).
pub(super) const BACKOFF_FIRST: Duration = Duration::from_secs(5);
/// The longest wait: space that comes back is noticed within a minute.
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Which counter of `status` a file was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tally {
    /// Filed into the library (moved or copied).
    Filed,
    /// Skipped as a duplicate (left in the inbox or quarantined).
    Skipped,
    /// Could not be filed.
    Failed,
}

/// How a file still in its inbox was counted, and on which day: a second
/// look at it (a rescan, a copy-mode inbox's file, a failed file retried)
/// does not count it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    /// The counter it is in.
    pub(super) tally: Tally,
    /// The day it was counted in `today`.
    pub(super) day: chrono::NaiveDate,
}

/// What the daemon reports in `status`, kept up to date by the main loop.
pub(super) struct State {
    pub(super) started: Instant,
    pub(super) paused: bool,
    pub(super) library_available: bool,
    /// Why the library cannot be filed into, while it cannot.
    pub(super) library_problem: Option<String>,
    pub(super) missing_inboxes: HashSet<PathBuf>,
    /// Files handled today, each counted once.
    pub(super) today: Counts,
    pub(super) today_date: chrono::NaiveDate,
    /// Files handled since start, each counted once.
    pub(super) total: Counts,
    pub(super) last_error: Option<String>,
    pub(super) rescan_requested: bool,
    /// The library index filing matches against, with what the daemon
    /// filed since it was read: a batch never walks the library. Checked
    /// in the background when anything else may have changed the library
    /// (a job, an undo, a prune, a rescan) and every `CHECK_EVERY`.
    pub(super) kept: super::library::Kept,
    /// `Jobs::finished` when `library` was kept.
    pub(super) library_jobs: u64,
    /// Where FileFiled / DuplicateSkipped go (D-Bus).
    pub(super) emit: Emitter,
    /// The day of the last journal backup.
    pub(super) last_backup: Option<chrono::NaiveDate>,
    /// Filing waits until then (a full disk, a journal that cannot be
    /// written), with the wait that follows if it fails again, and why.
    pub(super) backoff: Option<(Instant, Duration, String)>,
    /// Inbox entries that are never filed (links, FIFOs, devices) already logged.
    pub(super) skipped_logged: HashSet<PathBuf>,
}

/// The counter of `c` that `tally` names.
fn counter(c: &mut Counts, tally: Tally) -> &mut u64 {
    match tally {
        Tally::Filed => &mut c.filed,
        Tally::Skipped => &mut c.skipped,
        Tally::Failed => &mut c.failed,
    }
}

impl State {
    /// A daemon that has just started: nothing counted, nothing waited for.
    pub(super) fn new(emit: Emitter) -> State {
        State {
            emit,
            started: Instant::now(),
            paused: false,
            library_available: true,
            library_problem: None,
            missing_inboxes: HashSet::new(),
            today: Counts::default(),
            today_date: chrono::Local::now().date_naive(),
            total: Counts::default(),
            last_error: None,
            rescan_requested: false,
            kept: Default::default(),
            library_jobs: 0,
            last_backup: None,
            backoff: None,
            skipped_logged: HashSet::new(),
        }
    }

    /// Counts one file's outcome today and in total, once per file: `before`
    /// is how it was counted already (a file looked at again while it stays
    /// in its inbox), and the answer is how it is counted now. A file counted
    /// before moves to its new counter (a failed file completed and filed);
    /// a filed file stays filed (a copy-mode inbox's file found again is a
    /// duplicate of its own copy).
    pub(super) fn count(&mut self, before: Option<Counted>, tally: Tally) -> Counted {
        self.count_on(chrono::Local::now().date_naive(), before, tally)
    }

    /// [`State::count`] on a given day.
    fn count_on(&mut self, day: chrono::NaiveDate, before: Option<Counted>, tally: Tally) -> Counted {
        if day != self.today_date {
            self.today = Counts::default();
            self.today_date = day;
        }
        let tally = match before {
            Some(b) if b.tally == Tally::Filed => Tally::Filed,
            _ => tally,
        };
        if let Some(b) = before {
            let c = counter(&mut self.total, b.tally);
            *c = c.saturating_sub(1);
            if b.day == day {
                let c = counter(&mut self.today, b.tally);
                *c = c.saturating_sub(1);
            }
        }
        *counter(&mut self.total, tally) += 1;
        *counter(&mut self.today, tally) += 1;
        Counted { tally, day }
    }

    /// Logs an error and keeps it as the last error for `status`.
    pub(super) fn error(&mut self, msg: String) {
        tracing::error!("{msg}");
        self.last_error = Some(msg);
    }

    /// Filing failed in a way another try soon would repeat (no space, the
    /// journal unwritable): wait, twice as long each time up to a minute,
    /// and say so once per wait.
    pub(super) fn back_off(&mut self, why: String) {
        let step = self.backoff.as_ref().map_or(BACKOFF_FIRST, |(_, s, _)| (*s * 2).min(BACKOFF_MAX));
        let msg = format!("{why}; filing paused, next try in {} s", step.as_secs());
        self.error(msg.clone());
        self.backoff = Some((Instant::now() + step, step, msg));
    }

    /// A batch went through: any wait is over.
    pub(super) fn recovered(&mut self) {
        if let Some((_, _, why)) = self.backoff.take() {
            tracing::info!("filing resumes (it was paused: {why})");
            self.clear_error(Some(why));
        }
    }

    /// A problem is over: it is no longer the last error to show.
    pub(super) fn clear_error(&mut self, was: Option<String>) {
        if was.is_some() && self.last_error == was {
            self.last_error = None;
        }
    }

    /// Filing is waiting out a back-off.
    pub(super) fn backing_off(&self) -> bool {
        self.backoff.as_ref().is_some_and(|(until, _, _)| Instant::now() < *until)
    }

    /// Why filing is paused, if it is: the library away, or a back-off.
    pub(super) fn problem(&self) -> Option<String> {
        self.library_problem.clone().or_else(|| self.backoff.as_ref().map(|(_, _, why)| why.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(std::sync::Arc::new(|_| {}))
    }

    fn counts(c: &Counts) -> (u64, u64, u64) {
        (c.filed, c.skipped, c.failed)
    }

    #[test]
    fn a_file_looked_at_again_is_counted_once_under_its_latest_outcome_and_filed_is_final() {
        let mut s = state();
        let day = s.today_date;
        // A duplicate, found again at each rescan: still one skipped file.
        let dup = s.count_on(day, None, Tally::Skipped);
        let dup = s.count_on(day, Some(dup), Tally::Skipped);
        s.count_on(day, Some(dup), Tally::Skipped);
        assert_eq!(counts(&s.total), (0, 1, 0));
        // A failed file, completed and filed: one filed file, none failed.
        let cut = s.count_on(day, None, Tally::Failed);
        assert_eq!(counts(&s.total), (0, 1, 1));
        s.count_on(day, Some(cut), Tally::Filed);
        assert_eq!(counts(&s.total), (1, 1, 0));
        // A copy-mode file copied, then found again as a duplicate of its copy: filed.
        let copied = s.count_on(day, None, Tally::Filed);
        let again = s.count_on(day, Some(copied), Tally::Skipped);
        assert_eq!(again.tally, Tally::Filed);
        assert_eq!(counts(&s.total), (2, 1, 0));
        assert_eq!(counts(&s.today), (2, 1, 0));
    }

    #[test]
    fn today_starts_again_each_day_and_a_file_from_yesterday_counts_today_once() {
        let mut s = state();
        let day = s.today_date;
        let dup = s.count_on(day, None, Tally::Skipped);
        let next = day.succ_opt().unwrap();
        let dup = s.count_on(next, Some(dup), Tally::Skipped);
        assert_eq!((counts(&s.today), counts(&s.total)), ((0, 1, 0), (0, 1, 0)));
        s.count_on(next, Some(dup), Tally::Skipped);
        assert_eq!((counts(&s.today), counts(&s.total)), ((0, 1, 0), (0, 1, 0)));
    }
}
