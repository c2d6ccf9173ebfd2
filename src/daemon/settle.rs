//! Which inbox files have settled: a pure state machine, with no file
//! system and no clock inside (every method is given `now`).
//!
//! The daemon tells it what a scan saw of each file ([`Settle::observe`]:
//! size and mtime) and when the watcher last reported it
//! ([`Settle::event`]); it answers which files are quiet long enough to be
//! filed ([`Settle::settled`]): unchanged since `settle` after their last
//! change on disk and their last event, whichever is later, and seen
//! unchanged by a scan at least once. Files handled but left in their inbox
//! (a duplicate, a failure, a copy-mode inbox's file) are parked: not
//! looked at again until their size or mtime changes, or a rescan
//! ([`Settle::unpark_all`]). Files an undo put back stay parked through a
//! plain rescan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::state::Counted;

/// How long a watcher event is kept after the settle time has passed: it
/// can no longer hold a file back, but a late scan may still use it as
/// the file's last write.
const EVENT_KEPT: Duration = Duration::from_secs(60);

/// What the daemon remembers of a file it has seen but not filed yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Seen {
    /// Size in bytes when last seen.
    pub(super) size: u64,
    /// mtime in ns since the epoch.
    pub(super) mtime_ns: i64,
    /// When it last changed.
    pub(super) since: Instant,
    /// A scan has seen it unchanged since `since`: two looks agree.
    pub(super) steady: bool,
    /// Handled without being filed (error, duplicate): left alone until it changes.
    pub(super) parked: bool,
    /// Put back by an undo: left alone until it changes, even by a rescan.
    pub(super) undone: bool,
    /// How `status` counted it, while it stays in its inbox.
    pub(super) counted: Option<Counted>,
    /// Waiting until then for a file that belongs with it
    /// (`watch.pair_seconds`); it joins an earlier batch of its inbox.
    pub(super) held: Option<Instant>,
}

/// What [`Settle::observe`] made of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Observed {
    /// Not seen before: its settle clock starts.
    New,
    /// Its size or mtime changed: its settle clock starts again. A parked
    /// file is unparked (the caller forgets it in the store too).
    Changed {
        /// It was parked until now.
        was_parked: bool,
    },
    /// As it was.
    Unchanged,
}

/// The files seen in the inboxes but not filed, and the watcher's events.
#[derive(Debug)]
pub(super) struct Settle {
    /// How long a file must be quiet (`watch.settle_seconds`).
    settle: Duration,
    /// Files seen but not filed, by path. Control requests read and change
    /// it directly (`daemon::calls`), through [`Settle::files`].
    pub(super) files: HashMap<PathBuf, Seen>,
    /// The last watcher event of each path.
    events: HashMap<PathBuf, Instant>,
}

/// Parks `path` in `files`: left alone until its size or mtime changes
/// (an `undone` one, until it changes even through a rescan). Its settle
/// clock and how it was counted are kept when it was known.
pub(super) fn park_in(
    files: &mut HashMap<PathBuf, Seen>,
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    undone: bool,
    now: Instant,
) {
    let entry = files.entry(path).or_insert(Seen {
        size,
        mtime_ns,
        since: now,
        steady: true,
        parked: true,
        undone,
        counted: None,
        held: None,
    });
    (entry.size, entry.mtime_ns, entry.parked, entry.undone) = (size, mtime_ns, true, undone);
}

impl Settle {
    /// Nothing seen yet; files settle after `settle`.
    pub(super) fn new(settle: Duration) -> Settle {
        Settle { settle, files: HashMap::new(), events: HashMap::new() }
    }

    /// A new settle time (a config reload); clocks already running keep their start.
    pub(super) fn set_settle(&mut self, settle: Duration) {
        self.settle = settle;
    }

    /// The watcher reported `path` at `at`.
    pub(super) fn event(&mut self, path: PathBuf, at: Instant) {
        let t = self.events.entry(path).or_insert(at);
        *t = (*t).max(at);
    }

    /// A scan found `path` with this size and mtime at `now`.
    pub(super) fn observe(&mut self, path: &Path, size: u64, mtime_ns: i64, now: Instant) -> Observed {
        let prev = self.files.get(path).copied();
        match prev {
            Some(p) if p.size == size && p.mtime_ns == mtime_ns => {
                if let Some(s) = self.files.get_mut(path) {
                    s.steady = true;
                }
                Observed::Unchanged
            }
            _ => {
                // Its clock starts at the watcher's last event for it (its last
                // write or close) when there is one, else now.
                let since = self.events.get(path).copied().filter(|&e| e <= now).unwrap_or(now);
                // A failed or skipped file that changed (completed, edited) is
                // still the same file for `status`; a filed one is new content.
                let counted = prev.and_then(|p| p.counted).filter(|c| c.tally != super::state::Tally::Filed);
                let seen =
                    Seen { size, mtime_ns, since, steady: false, parked: false, undone: false, counted, held: None };
                self.files.insert(path.to_path_buf(), seen);
                match prev {
                    None => Observed::New,
                    Some(p) => Observed::Changed { was_parked: p.parked },
                }
            }
        }
    }

    /// When `seen` (at `path`) last changed or had an event, whichever is later.
    fn quiet_since(&self, path: &Path, seen: &Seen) -> Instant {
        self.events.get(path).map_or(seen.since, |&e| e.max(seen.since))
    }

    /// When a file that is settling will have settled.
    fn due_at(&self, path: &Path, seen: &Seen) -> Instant {
        self.quiet_since(path, seen) + self.settle
    }

    /// The files under `root` (the inbox just scanned) that have settled by
    /// `now`, in scan order (by path): not parked, seen unchanged by a scan,
    /// and quiet for `settle`.
    ///
    /// Files that belong together are filed together: a settled file waits
    /// while one of the same name in its folder (`IMG_1234.MOV` for
    /// `IMG_1234.HEIC`, `IMG_1234.HEIC.xmp`) is still changing, for at most
    /// `pair` after it settled. A file held back for a partner
    /// ([`Settle::hold`]) comes again with the next batch of its inbox, or
    /// alone once its hold runs out.
    pub(super) fn settled(&self, root: &Path, now: Instant, pair: Duration) -> Vec<PathBuf> {
        let mine = |p: &Path, s: &Seen| !s.parked && p.starts_with(root);
        // Names still changing, by folder and base name.
        let changing: HashSet<(&Path, String)> = self
            .files
            .iter()
            .filter(|(p, s)| mine(p, s) && (!s.steady || self.due_at(p, s) > now))
            .filter_map(|(p, _)| Some((p.parent()?, base_key(p)?)))
            .collect();
        let due: Vec<(&PathBuf, &Seen)> = self
            .files
            .iter()
            .filter(|(p, s)| mine(p, s) && s.steady && self.due_at(p, s) <= now)
            .filter(|(p, s)| {
                let partner_changing = p.parent().zip(base_key(p)).is_some_and(|(d, k)| changing.contains(&(d, k)));
                !partner_changing || self.due_at(p, s) + pair <= now
            })
            .collect();
        let held = |s: &Seen| s.held.is_some_and(|h| h > now);
        let fresh = due.iter().any(|(_, s)| !held(s));
        let mut out: Vec<PathBuf> =
            due.into_iter().filter(|(_, s)| fresh || !held(s)).map(|(p, _)| p.clone()).collect();
        out.sort();
        out
    }

    /// Holds a settled `path` back until `until`, waiting for a file that
    /// belongs with it ([`Settle::settled`]).
    pub(super) fn hold(&mut self, path: &Path, until: Instant) {
        if let Some(s) = self.files.get_mut(path) {
            s.held = Some(until);
        }
    }

    /// When a settled `path` (quiet at `now`) stops waiting for a partner,
    /// `pair` after it settled; `None` once that is past.
    pub(super) fn pair_deadline(&self, path: &Path, now: Instant, pair: Duration) -> Option<Instant> {
        let s = self.files.get(path)?;
        let until = self.due_at(path, s) + pair;
        (until > now).then_some(until)
    }

    /// How long `path` has been quiet at `now` (for the log).
    pub(super) fn quiet_for(&self, path: &Path, now: Instant) -> Option<Duration> {
        self.files.get(path).map(|s| now.saturating_duration_since(self.quiet_since(path, s)))
    }

    /// What is remembered of `path`.
    pub(super) fn get(&self, path: &Path) -> Option<&Seen> {
        self.files.get(path)
    }

    /// Sets how `status` counted `path`, while it stays in its inbox.
    pub(super) fn set_counted(&mut self, path: &Path, counted: Counted) {
        if let Some(s) = self.files.get_mut(path) {
            s.counted = Some(counted);
        }
    }

    /// Parks `path`: handled, left in its inbox, not looked at again until it changes.
    pub(super) fn park(&mut self, path: PathBuf, size: u64, mtime_ns: i64, undone: bool, now: Instant) {
        park_in(&mut self.files, path, size, mtime_ns, undone, now);
    }

    /// A rescan: parked files get another look, except (unless `undone`)
    /// those an undo put back. (`daemon::calls` does this on `files` itself
    /// today; this is the call for it.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn unpark_all(&mut self, undone: bool) {
        self.files.values_mut().filter(|s| undone || !s.undone).for_each(|s| s.parked = false);
    }

    /// Forgets `path` (filed: it left its inbox).
    pub(super) fn forget(&mut self, path: &Path) -> Option<Seen> {
        self.files.remove(path)
    }

    /// Forgets the files under `root` that a scan of it no longer found in
    /// `present`; returns the parked ones among them (to forget in the store too).
    pub(super) fn forget_missing(&mut self, root: &Path, present: &HashSet<PathBuf>) -> Vec<PathBuf> {
        let gone: Vec<PathBuf> =
            self.files.keys().filter(|p| p.starts_with(root) && !present.contains(*p)).cloned().collect();
        let mut parked = Vec::new();
        for p in gone {
            if self.files.remove(&p).is_some_and(|s| s.parked) {
                parked.push(p);
            }
        }
        parked.sort();
        parked
    }

    /// Forgets watcher events too old to hold any file back at `now`.
    pub(super) fn expire_events(&mut self, now: Instant) {
        let keep = self.settle + EVENT_KEPT;
        self.events.retain(|_, t| now.saturating_duration_since(*t) < keep);
    }

    /// When the first settling file is due, if any is settling.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.files
            .iter()
            .filter(|(_, s)| !s.parked)
            .map(|(p, s)| s.held.map_or(self.due_at(p, s), |h| h.max(self.due_at(p, s))))
            .min()
    }

    /// Files waiting to settle or to be filed (not parked).
    pub(super) fn queue(&self) -> u64 {
        self.files.values().filter(|s| !s.parked).count() as u64
    }
}

/// The name files that belong together share (`img_1234` for
/// `IMG_1234.HEIC`, `IMG_1234.MOV`, `IMG_1234_HEVC.MOV`, `IMG_1234.HEIC.xmp`,
/// `IMG_E1234.JPG`, `IMG_O1234.AAE`): the name up to its first dot, in lower
/// case. Only to decide what waits for what, never to pair files.
fn base_key(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let base = name.split('.').next().unwrap_or_default();
    let base = base.strip_suffix("_hevc").unwrap_or(base);
    let base = match base.strip_prefix("img_e").or_else(|| base.strip_prefix("img_o")) {
        Some(n) if n.starts_with(|c: char| c.is_ascii_digit()) => format!("img_{n}"),
        _ => base.to_string(),
    };
    (!base.is_empty()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(5);

    const PAIR: Duration = Duration::from_secs(30);

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn inbox() -> &'static Path {
        Path::new("/inbox")
    }

    fn file(name: &str) -> PathBuf {
        inbox().join(name)
    }

    #[test]
    fn a_file_settles_exactly_settle_after_its_last_change() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let a = file("a.jpg");
        assert_eq!(st.observe(&a, 10, 1, t0), Observed::New);
        // Not on the look that found it, however late that look comes.
        assert!(st.settled(inbox(), t0 + s(60), PAIR).is_empty());
        assert_eq!(st.observe(&a, 10, 1, t0 + s(1)), Observed::Unchanged);
        assert!(st.settled(inbox(), t0 + SETTLE - Duration::from_millis(1), PAIR).is_empty());
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR), vec![a.clone()]);
        assert_eq!(st.next_due(), Some(t0 + SETTLE));
        assert_eq!(st.queue(), 1);
        assert_eq!(st.quiet_for(&a, t0 + s(3)), Some(s(3)));
    }

    #[test]
    fn a_file_that_keeps_changing_never_settles() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let a = file("growing.mov");
        st.observe(&a, 1, 1, t0);
        for i in 1..100u64 {
            let now = t0 + s(i * 4);
            assert_eq!(st.observe(&a, 1 + i, 1, now), Observed::Changed { was_parked: false });
            assert!(st.settled(inbox(), now, PAIR).is_empty(), "settled while still growing, at step {i}");
            assert_eq!(st.next_due(), Some(now + SETTLE));
        }
        // A change of mtime alone is a change too.
        let now = t0 + s(400);
        assert_eq!(st.observe(&a, 100, 2, now), Observed::Changed { was_parked: false });
        assert!(st.settled(inbox(), now + s(1), PAIR).is_empty());
    }

    #[test]
    fn a_later_event_holds_a_file_back_and_an_earlier_one_starts_its_clock() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let a = file("a.jpg");
        st.observe(&a, 10, 1, t0);
        st.observe(&a, 10, 1, t0 + s(1));
        // Closed after writing at t0 + 3 (same size and mtime to the second).
        st.event(a.clone(), t0 + s(3));
        assert!(st.settled(inbox(), t0 + SETTLE, PAIR).is_empty());
        assert_eq!(st.next_due(), Some(t0 + s(3) + SETTLE));
        assert_eq!(st.settled(inbox(), t0 + s(3) + SETTLE, PAIR), vec![a.clone()]);
        // An older event does not move it back.
        st.event(a.clone(), t0 + s(2));
        assert_eq!(st.next_due(), Some(t0 + s(3) + SETTLE));

        // A new file whose last write the watcher saw before the scan: its clock starts there.
        let b = file("b.jpg");
        st.event(b.clone(), t0 + s(10));
        st.observe(&b, 5, 1, t0 + s(12));
        st.observe(&b, 5, 1, t0 + s(13));
        assert!(!st.settled(inbox(), t0 + s(10) + SETTLE - Duration::from_millis(1), PAIR).contains(&b));
        assert!(st.settled(inbox(), t0 + s(10) + SETTLE, PAIR).contains(&b));
        // An event stamped after the look (clocks are taken apart) is not its start.
        let c = file("c.jpg");
        st.event(c.clone(), t0 + s(30));
        st.observe(&c, 5, 1, t0 + s(20));
        assert_eq!(st.get(&c).map(|x| x.since), Some(t0 + s(20)));
    }

    #[test]
    fn only_the_scanned_inbox_settles_in_path_order() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let (b, a, other) = (file("b/z.jpg"), file("a.jpg"), PathBuf::from("/other/a.jpg"));
        for p in [&b, &a, &other] {
            st.observe(p, 1, 1, t0);
            st.observe(p, 1, 1, t0 + s(1));
        }
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR), vec![a, b]);
        assert_eq!(st.settled(Path::new("/other"), t0 + SETTLE, PAIR), vec![other]);
    }

    #[test]
    fn a_parked_file_is_not_retried_until_its_size_or_mtime_changes() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let a = file("dup.jpg");
        st.observe(&a, 10, 1, t0);
        st.observe(&a, 10, 1, t0 + s(1));
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR).len(), 1);
        st.park(a.clone(), 10, 1, false, t0 + SETTLE);
        assert_eq!((st.queue(), st.next_due()), (0, None));
        for i in 1..10 {
            assert_eq!(st.observe(&a, 10, 1, t0 + s(10 * i)), Observed::Unchanged);
            assert!(st.settled(inbox(), t0 + s(10 * i), PAIR).is_empty());
        }
        let now = t0 + s(200);
        assert_eq!(st.observe(&a, 11, 1, now), Observed::Changed { was_parked: true });
        assert_eq!(st.queue(), 1);
        st.observe(&a, 11, 1, now + s(1));
        assert_eq!(st.settled(inbox(), now + SETTLE, PAIR), vec![a]);
    }

    #[test]
    fn an_undone_file_stays_parked_through_a_plain_rescan_but_not_a_rescan_of_undone_files() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let (undone, dup) = (file("undone.jpg"), file("dup.jpg"));
        st.park(undone.clone(), 1, 1, true, t0);
        st.park(dup.clone(), 2, 2, false, t0);
        for p in [&undone, &dup] {
            assert_eq!(
                st.observe(p, st.get(p).unwrap().size, st.get(p).unwrap().mtime_ns, t0 + s(1)),
                Observed::Unchanged
            );
        }
        st.unpark_all(false);
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR), vec![dup.clone()]);
        assert!(st.get(&undone).unwrap().parked);
        st.unpark_all(true);
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR), vec![dup, undone.clone()]);
        // Changed, it is an ordinary file again.
        st.park(undone.clone(), 1, 1, true, t0);
        st.observe(&undone, 3, 1, t0 + s(2));
        assert!(!st.get(&undone).unwrap().undone);
    }

    #[test]
    fn a_vanished_file_is_forgotten_and_a_parked_one_is_named() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let (kept, settling, parked, other) =
            (file("kept.jpg"), file("settling.jpg"), file("parked.jpg"), PathBuf::from("/other/x.jpg"));
        for p in [&kept, &settling, &other] {
            st.observe(p, 1, 1, t0);
        }
        st.park(parked.clone(), 1, 1, false, t0);
        let present: HashSet<PathBuf> = [kept.clone()].into();
        assert_eq!(st.forget_missing(inbox(), &present), vec![parked.clone()]);
        assert!(st.get(&settling).is_none() && st.get(&parked).is_none());
        assert!(st.get(&kept).is_some(), "still there");
        assert!(st.get(&other).is_some(), "another inbox was not scanned");
        assert!(st.forget(&kept).is_some());
        assert_eq!(st.queue(), 1);
        // Back again later: new.
        assert_eq!(st.observe(&settling, 1, 1, t0 + s(9)), Observed::New);
    }

    #[test]
    fn next_due_is_the_earliest_due_time_of_the_files_not_parked() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        assert_eq!(st.next_due(), None);
        st.observe(&file("late.jpg"), 1, 1, t0 + s(4));
        st.observe(&file("early.jpg"), 1, 1, t0 + s(2));
        st.park(file("parked.jpg"), 1, 1, false, t0);
        st.observe(&file("evented.jpg"), 1, 1, t0 + s(1));
        st.event(file("evented.jpg"), t0 + s(3));
        assert_eq!(st.next_due(), Some(t0 + s(2) + SETTLE));
        assert_eq!(st.queue(), 3);
        // A shorter settle time (a reload) applies to clocks already running.
        st.set_settle(s(1));
        assert_eq!(st.next_due(), Some(t0 + s(3)));
    }

    #[test]
    fn old_events_expire_and_no_longer_hold_a_file_back() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let a = file("a.jpg");
        st.event(a.clone(), t0 + s(100));
        st.expire_events(t0 + s(100) + SETTLE + EVENT_KEPT);
        st.observe(&a, 1, 1, t0 + s(200));
        assert_eq!(st.get(&a).map(|x| x.since), Some(t0 + s(200)));
    }

    #[test]
    fn how_a_file_was_counted_survives_a_change_unless_it_was_filed() {
        use super::super::state::{Counted, Tally};
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let (cut, copied) = (file("cut.jpg"), file("copied.jpg"));
        for (p, tally) in [(&cut, Tally::Failed), (&copied, Tally::Filed)] {
            st.observe(p, 1, 1, t0);
            st.set_counted(p, Counted { tally, day });
            st.park(p.clone(), 1, 1, false, t0);
            st.observe(p, 2, 1, t0 + s(1));
        }
        assert_eq!(st.get(&cut).unwrap().counted, Some(Counted { tally: Tally::Failed, day }));
        assert_eq!(st.get(&copied).unwrap().counted, None);
    }

    #[test]
    fn a_file_waits_for_a_same_named_one_still_changing_but_not_past_pair() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let (heic, mov, other) = (file("IMG_1234.HEIC"), file("IMG_1234_HEVC.MOV"), file("IMG_9.JPG"));
        st.observe(&heic, 10, 1, t0);
        st.observe(&heic, 10, 1, t0 + s(1));
        st.observe(&other, 10, 1, t0);
        st.observe(&other, 10, 1, t0 + s(1));
        // The MOV is still being written: the HEIC waits for it, the other file does not.
        for i in 0..10 {
            st.observe(&mov, 100 + i, 1, t0 + s(i));
        }
        assert_eq!(st.settled(inbox(), t0 + SETTLE, PAIR), vec![other.clone()]);
        st.forget(&other);
        st.observe(&mov, 109, 1, t0 + s(10));
        assert_eq!(st.settled(inbox(), t0 + s(9) + SETTLE, PAIR), vec![heic.clone(), mov.clone()]);
        // A partner that never stops changing holds it for `pair` at most.
        let mut st = Settle::new(SETTLE);
        st.observe(&heic, 10, 1, t0);
        st.observe(&heic, 10, 1, t0 + s(1));
        for i in 0..60 {
            st.observe(&mov, 100 + i, 1, t0 + s(i));
        }
        assert!(st.settled(inbox(), t0 + SETTLE + PAIR - s(1), PAIR).is_empty());
        assert_eq!(st.settled(inbox(), t0 + SETTLE + PAIR, PAIR), vec![heic]);
        assert_eq!(base_key(Path::new("/i/IMG_E1234.JPG")), base_key(Path::new("/i/img_1234.heic.xmp")));
        assert_eq!(base_key(Path::new("/i/IMG_O1234.AAE")).as_deref(), Some("img_1234"));
        assert_ne!(base_key(Path::new("/i/IMG_Effect.JPG")).as_deref(), Some("img_ffect"));
    }

    #[test]
    fn a_held_file_comes_with_the_next_batch_or_alone_when_its_hold_runs_out() {
        let t0 = Instant::now();
        let mut st = Settle::new(SETTLE);
        let (heic, mov) = (file("IMG_5195.HEIC"), file("live.mov"));
        st.observe(&heic, 10, 1, t0);
        st.observe(&heic, 10, 1, t0 + s(1));
        let due = t0 + SETTLE;
        assert_eq!(st.settled(inbox(), due, PAIR), vec![heic.clone()]);
        let until = st.pair_deadline(&heic, due, PAIR).unwrap();
        assert_eq!(until, due + PAIR);
        st.hold(&heic, until);
        assert!(st.settled(inbox(), due + s(1), PAIR).is_empty());
        assert_eq!(st.next_due(), Some(until));
        // Its video settles: both are looked at again.
        st.observe(&mov, 5, 1, t0 + s(10));
        st.observe(&mov, 5, 1, t0 + s(11));
        assert_eq!(st.settled(inbox(), t0 + s(10) + SETTLE, PAIR), vec![heic.clone(), mov.clone()]);
        st.forget(&mov);
        // Alone, once the hold runs out; and then it waits no more.
        assert!(st.settled(inbox(), until - s(1), PAIR).is_empty());
        assert_eq!(st.settled(inbox(), until, PAIR), vec![heic.clone()]);
        assert_eq!(st.pair_deadline(&heic, until, PAIR), None);
    }
}
