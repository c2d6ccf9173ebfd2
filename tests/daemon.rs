//! `clean-backupd` as a process: files settled media from its inbox into the
//! library, leaves a file alone while it is still being written, and stops
//! cleanly on SIGTERM.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{start_daemon, wait_for, Daemon};

#[test]
fn the_daemon_files_settled_inbox_files_and_stops_cleanly_on_sigterm() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 2);
    let mut daemon = start_daemon(&config);
    let inbox = t.path().join("inbox");
    wait_for("the inbox to be created", Duration::from_secs(10), || inbox.is_dir());

    let jpg = std::fs::read(corpus.join("exif-samples/jpg/Canon_40D.jpg")).unwrap();
    std::fs::write(inbox.join("Canon_40D.jpg"), &jpg).unwrap();
    // A file still being written in chunks must not be moved half-written.
    let heic = std::fs::read(corpus.join("exif-samples/heic/IMG_5195.HEIC")).unwrap();
    let slow = inbox.join("IMG_5195.HEIC");
    let chunk = heic.len() / 5 + 1;
    for (i, part) in heic.chunks(chunk).enumerate() {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&slow).unwrap();
        f.write_all(part).unwrap();
        drop(f);
        if i + 1 < heic.len().div_ceil(chunk) {
            std::thread::sleep(Duration::from_millis(900));
            assert!(slow.exists(), "moved while still being written (after chunk {i})");
        }
    }
    let filed_jpg = t.path().join("lib/2008/05/Canon_40D.jpg");
    let filed_heic = t.path().join("lib/2021/04/IMG_5195.HEIC");
    wait_for("both files to be filed", Duration::from_secs(20), || filed_jpg.exists() && filed_heic.exists());
    assert_eq!(std::fs::read(&filed_jpg).unwrap(), jpg);
    assert_eq!(std::fs::read(&filed_heic).unwrap(), heic, "filed whole, byte for byte");

    // SIGTERM: exit 0 within a few seconds.
    let pid = libc::pid_t::try_from(daemon.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // The imports are journaled: undo puts them back into the inbox.
    let out =
        common::run(common::cbctl(&t.path().join("state")).arg("--config").arg(&config).args(["--json", "history"]));
    let sessions = common::json_lines(&out);
    assert!(sessions.iter().any(|s| s["kind"] == "ingest" && s["ops_done"].as_i64() > Some(0)), "{sessions:?}");
    while common::run(common::cbctl(&t.path().join("state")).args(["undo", "--last"])).status.success() {}
    assert!(inbox.join("Canon_40D.jpg").exists() && slow.exists());
    assert!(!Path::new(&t.path().join("lib/2008")).exists());
}

#[test]
fn a_sync_tools_temp_file_is_filed_only_after_its_rename_and_files_from_before_start_are_found() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    // Arrived while the daemon was down.
    let inbox = t.path().join("inbox");
    std::fs::create_dir_all(inbox.join("phone")).unwrap();
    let early = corpus.join("exif-samples/jpg/gps/DSCN0010.jpg");
    std::fs::copy(&early, inbox.join("phone/DSCN0010.jpg")).unwrap();
    let _daemon = start_daemon(&config);
    let lib = t.path().join("lib");
    wait_for("the file from before start", Duration::from_secs(20), || lib.join("2008/10/DSCN0010.jpg").exists());

    // Syncthing writes `.syncthing.NAME.tmp`, then renames it into place.
    let photo = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    let tmp = inbox.join("phone/.syncthing.Canon_40D.jpg.tmp");
    std::fs::copy(&photo, &tmp).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(tmp.exists(), "a temp file is never touched");
    assert!(!lib.join("2008/05").exists());
    std::fs::rename(&tmp, inbox.join("phone/Canon_40D.jpg")).unwrap();
    let filed = lib.join("2008/05/Canon_40D.jpg");
    wait_for("the renamed file", Duration::from_secs(20), || filed.exists());
    assert_eq!(common::b3(&filed), common::b3(&photo));
}

/// Starts the daemon on `config` as systemd would with `Type=notify` and
/// `WatchdogSec`: a notify socket in `dir` (returned, to read what the
/// daemon tells systemd) and `WATCHDOG_USEC`.
fn start_under_systemd(dir: &Path, config: &Path, watchdog_usec: &str) -> (std::os::unix::net::UnixDatagram, Daemon) {
    let sock_path = dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
        .arg("--config")
        .arg(config)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", watchdog_usec)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (sock, Daemon(child))
}

#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let t = tempfile::tempdir().unwrap();
    let config = t.path().join("config.toml");
    std::fs::write(&config, "library = \"lib\"\nstate_dir = \"state\"\n[[inbox]]\npath = \"inbox\"\n").unwrap();
    let (sock, mut daemon) = start_under_systemd(t.path(), &config, "400000");
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let recv = || {
        let mut buf = [0u8; 1024];
        let n = sock.recv(&mut buf).expect("a message from the daemon");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    assert!(ready.starts_with("READY=1\nSTATUS=watching 1 inbox(es)"), "{ready}");
    assert!(recv().starts_with("WATCHDOG=1"), "pings at half of WATCHDOG_USEC");
    let pid = libc::pid_t::try_from(daemon.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let mut last = String::new();
    for _ in 0..50 {
        last = recv();
        if last == "STOPPING=1" {
            break;
        }
    }
    assert_eq!(last, "STOPPING=1");
    assert_eq!(daemon.0.wait().unwrap().code(), Some(0));
}

/// The first index of a library runs inside a batch, off the main loop: its
/// progress keeps the watchdog fed (and says so in STATUS), so a big library
/// is not killed and restarted in a loop by `WatchdogSec`.
#[test]
fn indexing_a_big_library_keeps_the_watchdog_fed() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = t.path().join("config.toml");
    std::fs::write(
        &config,
        "library = \"lib\"\nstate_dir = \"state\"\n[[inbox]]\npath = \"inbox\"\n[watch]\nsettle_seconds = 1\n[control]\ndbus = \"off\"\n",
    )
    .unwrap();
    // A library the daemon has never indexed, and one new photo to file.
    let photos: Vec<_> = common::manifest(&corpus).into_iter().filter(|e| e.mime == "image/jpeg").take(60).collect();
    assert!(photos.len() >= 40, "enough JPEGs in the corpus");
    let lib = t.path().join("lib/old");
    std::fs::create_dir_all(&lib).unwrap();
    for (i, e) in photos.iter().enumerate() {
        std::fs::copy(corpus.join(&e.path), lib.join(format!("{i}.jpg"))).unwrap();
    }
    std::fs::create_dir_all(t.path().join("inbox")).unwrap();
    for made in common::make_photos(&t.path().join("stage"), 1).values() {
        std::fs::rename(made, t.path().join("inbox/new.jpg")).unwrap();
    }

    // A ping is due every millisecond: any progress event past the first millisecond pings.
    let (sock, _daemon) = start_under_systemd(t.path(), &config, "2000");
    // Read the messages as systemd would, while waiting for the new photo to be
    // filed (the batch, and so the first index, is then done).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 1024];
            while let Ok(n) = sock.recv(&mut buf) {
                seen.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        })
    };
    wait_for("the photo to be filed", Duration::from_secs(60), || {
        let out = common::ctl(&config).args(["--json", "status"]).output().unwrap();
        out.status.success() && common::summary(&common::json_lines(&out))["total"]["filed"] == 1
    });
    drop(_daemon);
    reader.join().unwrap();
    let seen = seen.lock().unwrap();
    let indexing = seen.iter().filter(|m| m.starts_with("WATCHDOG=1\nSTATUS=indexing the library: ")).count();
    assert!(indexing > 0, "no pings while indexing: {seen:?}");
}

/// The daemon keeps the library index between batches instead of walking
/// the library for each one, so it must stay right about what the library
/// holds: what it filed itself, what a library file deleted by hand no
/// longer matches, what a job filed, and what `cbctl rescan` finds added by hand.
#[test]
fn the_kept_library_index_follows_the_daemons_own_filing_jobs_deletions_and_rescans() {
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let _daemon = start_daemon(&config);
    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    wait_for("the daemon", Duration::from_secs(30), || {
        common::ctl(&config).arg("status").output().is_ok_and(|o| o.status.success())
    });
    let photos: Vec<_> = common::make_photos(&t.path().join("stage"), 3).into_iter().collect();
    let totals = || {
        let s = common::status(&config);
        (s["total"]["filed"].as_u64().unwrap_or(0), s["total"]["skipped"].as_u64().unwrap_or(0))
    };
    let arrive = |photo: usize, name: &str| std::fs::copy(&photos[photo].1, inbox.join(name)).unwrap();
    let in_library = |photo: usize| -> Vec<std::path::PathBuf> {
        walkdir::WalkDir::new(&lib)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && common::b3(e.path()) == photos[photo].0)
            .map(|e| e.into_path())
            .collect()
    };

    // Filed in one batch, then known as a duplicate in the next.
    arrive(0, "a.jpg");
    wait_for("a.jpg filed", Duration::from_secs(20), || totals() == (1, 0));
    arrive(0, "a-again.jpg");
    wait_for("a-again.jpg skipped", Duration::from_secs(20), || totals() == (1, 1));
    assert!(inbox.join("a-again.jpg").exists());

    // Its library copy deleted by hand: the next copy is filed, not matched with a file that is gone.
    for p in in_library(0) {
        std::fs::remove_file(p).unwrap();
    }
    arrive(0, "a-third.jpg");
    wait_for("a-third.jpg filed", Duration::from_secs(20), || totals() == (2, 1));
    assert!(!inbox.join("a-third.jpg").exists());
    let [copy] = in_library(0).try_into().unwrap();

    // That library copy edited in place: it no longer holds photo 0, so photo 0 is filed again.
    use std::io::Write;
    std::fs::OpenOptions::new().append(true).open(&copy).and_then(|mut f| f.write_all(b"edited")).unwrap();
    arrive(0, "a-fourth.jpg");
    wait_for("a-fourth.jpg filed", Duration::from_secs(20), || totals() == (3, 1));
    assert_eq!(in_library(0).len(), 1);

    // A job files photo 1 into the library: then photo 1 in the inbox is a duplicate.
    let job_src = t.path().join("camera");
    std::fs::create_dir_all(&job_src).unwrap();
    std::fs::copy(&photos[1].1, job_src.join("b.jpg")).unwrap();
    let out = common::run(common::ctl(&config).arg("organize").arg(&job_src).arg(&lib));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(in_library(1).len(), 1);
    // (Another name: the same name and date would meet the job's file at its destination.)
    arrive(1, "b-phone.jpg");
    wait_for("b-phone.jpg skipped", Duration::from_secs(20), || totals() == (3, 2));
    assert!(inbox.join("b-phone.jpg").exists());

    // Photo 2 put into the library by hand, then `cbctl rescan`: its copy is a duplicate.
    std::fs::create_dir_all(lib.join("by-hand")).unwrap();
    std::fs::copy(&photos[2].1, lib.join("by-hand/c.jpg")).unwrap();
    assert_eq!(common::run(common::ctl(&config).arg("rescan")).status.code(), Some(0));
    arrive(2, "c.jpg");
    // (The rescan also looks again at the two copies skipped before.)
    let decision = || {
        let out = common::ctl(&config).args(["--json", "why"]).arg(inbox.join("c.jpg")).output().unwrap();
        common::json_lines(&out).first().map(|w| (w["decision"].clone(), w["duplicate_of"].clone()))
    };
    wait_for("a decision on c.jpg", Duration::from_secs(20), || decision().is_some_and(|(d, _)| !d.is_null()));
    let (d, of) = decision().unwrap();
    assert_eq!((d.as_str(), of.as_str()), (Some("skipped"), lib.join("by-hand/c.jpg").to_str()));
    assert_eq!(totals().0, 3);
    assert!(inbox.join("c.jpg").exists());
    assert_eq!(in_library(2).len(), 1);
}

/// Starts the daemon on `config` with `env` set (and `remove` removed), its
/// log at info level in `log`, and waits until it answers `cbctl status`.
fn start_logged_with(config: &Path, log: &Path, env: &[(&str, &Path)], remove: &[&str]) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clean-backupd"));
    cmd.arg("--config").arg(config).env("CLEAN_BACKUP_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let daemon = Daemon(cmd.stderr(std::fs::File::create(log).unwrap()).spawn().unwrap());
    wait_for("the daemon", Duration::from_secs(30), || {
        common::ctl(config).arg("status").output().is_ok_and(|o| o.status.success())
    });
    daemon
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The log is for the person reading it: words, never Rust's debug dumps
/// (`Summary { session: Some(1), .. }`, `outcome=NonMedia reason=""`), and
/// each filed file names the date it was filed by and where that date came from.
#[test]
fn the_daemons_log_is_words_and_names_each_filed_files_date_and_its_source() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let log = t.path().join("daemon.log");
    let _daemon = common::start_daemon_logged(&config, &log);
    let inbox = t.path().join("inbox");
    let photo = "exif-samples/jpg/Canon_40D.jpg";
    let entry = common::manifest(&corpus).into_iter().find(|e| e.path == photo).unwrap();
    // The manifest's EXIF DateTimeOriginal, as `2008:05:30 15:56:01`: shown to the minute.
    let original = entry.date_time_original.expect("the photo has a DateTimeOriginal");
    let taken = format!("taken {} {} from exif", original[..10].replace(':', "-"), &original[11..16]);
    std::fs::copy(corpus.join(photo), inbox.join("Canon_40D.jpg")).unwrap();
    std::fs::write(inbox.join("notes.txt"), "not a photo").unwrap();
    // A photo with no date inside: filed by its mtime.
    for made in common::make_photos(&t.path().join("stage"), 1).values() {
        std::fs::rename(made, inbox.join("undated.jpg")).unwrap();
    }
    wait_for("the photos filed and the text file left alone", Duration::from_secs(30), || {
        let l = read(&log);
        l.contains("undated.jpg ->")
            && l.contains("Canon_40D.jpg ->")
            && l.contains("notes.txt")
            && l.matches("batch ").count() >= 1
    });
    wait_for("every batch's summary line", Duration::from_secs(30), || {
        let s = common::status(&config);
        s["total"]["filed"] == 2 && s["queue"] == 0
    });
    let log = read(&log);
    for debug in ["{", "}", "Some(", "None", "Summary", "NonMedia", "reason=\"\"", "mode=", "Move", "Session"] {
        assert!(!log.contains(debug), "Rust debug output {debug:?} in the log:\n{log}");
    }
    let filed = log.lines().find(|l| l.contains("Canon_40D.jpg ->")).unwrap();
    let to = t.path().join("lib/2008/05/Canon_40D.jpg");
    assert!(
        filed.contains(&format!("filed: {} -> {}", inbox.join("Canon_40D.jpg").display(), to.display())),
        "{filed}"
    );
    assert!(filed.contains(&format!("({taken})")), "{filed}");
    let undated = log.lines().find(|l| l.contains("undated.jpg ->")).unwrap();
    assert!(undated.contains("(no date in the file: filed by its mtime, "), "{undated}");
    let left = log.lines().find(|l| l.contains("notes.txt")).unwrap();
    assert!(
        left.contains(&format!("left in inbox: not a media file: {}", inbox.join("notes.txt").display())),
        "{left}"
    );
    let batch = log.lines().find(|l| l.contains("batch filed: session ")).unwrap_or_else(|| panic!("{log}"));
    assert!(batch.contains("failed (`cbctl undo "), "{batch}");
    assert!(log.contains(&format!("inbox {} (its files are moved into the library)", inbox.display())), "{log}");
}

/// A first run on a box with no session bus (over ssh, headless) opens
/// without a warning: it says once that cbctl is served on the socket. A
/// session bus that is there but cannot be used is still a warning.
#[test]
fn no_session_bus_is_said_once_at_info_and_a_broken_one_is_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("dbus = \"off\"", "dbus = \"session\"");
    std::fs::write(&config, text).unwrap();
    let runtime = t.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let log = t.path().join("no-bus.log");
    let daemon = start_logged_with(&config, &log, &[("XDG_RUNTIME_DIR", &runtime)], &["DBUS_SESSION_BUS_ADDRESS"]);
    drop(daemon);
    let text = read(&log);
    assert_eq!(text.matches("no D-Bus session bus: serving cbctl on the socket only").count(), 1, "{text}");
    assert!(text.lines().any(|l| l.contains("INFO") && l.contains("no D-Bus session bus")), "{text}");
    assert!(!text.contains("WARN"), "no warning on a first run without a session bus:\n{text}");

    // A bus socket that is there but is no bus: a warning, and the socket still serves cbctl.
    std::fs::write(runtime.join("bus"), "").unwrap();
    let log = t.path().join("broken-bus.log");
    let _daemon = start_logged_with(&config, &log, &[("XDG_RUNTIME_DIR", &runtime)], &["DBUS_SESSION_BUS_ADDRESS"]);
    let text = read(&log);
    assert!(text.lines().any(|l| l.contains("WARN") && l.contains("not on D-Bus")), "{text}");
    assert!(!text.contains("no D-Bus session bus"), "{text}");
}

/// `status` counts files, not looks at them: a duplicate and a failed file
/// left in the inbox, and a copy-mode inbox's file, are each counted once
/// however often `cbctl rescan` has them looked at again.
#[test]
fn status_counts_each_file_once_through_rescans() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[[inbox]]\npath = \"camera\"\nmode = \"copy\"\n");
    std::fs::write(&config, text).unwrap();
    let camera = t.path().join("camera");
    std::fs::create_dir(&camera).unwrap();
    let log = t.path().join("daemon.log");
    let _daemon = common::start_daemon_logged(&config, &log);
    let inbox = t.path().join("inbox");
    let counts = |when: &str| {
        let s = common::status(&config);
        (s[when]["filed"].as_u64(), s[when]["skipped"].as_u64(), s[when]["failed"].as_u64())
    };
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), inbox.join("Canon_40D.jpg")).unwrap();
    wait_for("the photo filed", Duration::from_secs(30), || counts("total") == (Some(1), Some(0), Some(0)));
    let dup = inbox.join("again.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), &dup).unwrap();
    let bytes = std::fs::read(corpus.join("exif-samples/jpg/Canon_DIGITAL_IXUS_400.jpg")).unwrap();
    let cut = inbox.join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let card = camera.join("DSCN0010.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/gps/DSCN0010.jpg"), &card).unwrap();
    wait_for("a duplicate, a failure and a copy", Duration::from_secs(30), || {
        counts("total") == (Some(2), Some(1), Some(1))
    });
    // Each look at them is in the log; two rescans, each waited for.
    let looks = || {
        let l = read(&log);
        let n = |what: String| l.lines().filter(|line| line.contains(&what)).count();
        (
            n(format!("duplicate left in inbox: {}", dup.display())),
            n(format!("not filed, left in inbox until it changes: {}", cut.display())),
            n(format!("duplicate left in inbox: {}", card.display())),
        )
    };
    assert_eq!(looks(), (1, 1, 0));
    for round in 1..=2 {
        assert_eq!(common::run(common::ctl(&config).arg("rescan")).status.code(), Some(0));
        wait_for(&format!("rescan {round} to look at them again"), Duration::from_secs(30), || {
            looks() == (1 + round, 1 + round, round)
        });
        assert_eq!(counts("total"), (Some(2), Some(1), Some(1)), "after rescan {round}");
        assert_eq!(counts("today"), (Some(2), Some(1), Some(1)), "after rescan {round}");
    }
    assert!(dup.exists() && cut.exists() && card.exists());
}

/// `index_files` in `status` is the library's file count, not every
/// folder a dedup job has indexed.
#[test]
fn status_index_files_counts_the_library_only_after_a_dedup_of_another_folder() {
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let _daemon = common::start_daemon_logged(&config, &t.path().join("daemon.log"));
    let photos: Vec<_> = common::make_photos(&t.path().join("stage"), 4).into_values().collect();
    std::fs::rename(&photos[0], t.path().join("inbox/a.jpg")).unwrap();
    wait_for("the photo filed", Duration::from_secs(30), || common::status(&config)["total"]["filed"] == 1);
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for (i, p) in photos[1..].iter().enumerate() {
        std::fs::rename(p, other.join(format!("{i}.jpg"))).unwrap();
    }
    let out = common::run(common::ctl(&config).arg("dedup").arg(&other));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let in_library = common::contents(&t.path().join("lib")).values().sum::<usize>() as u64;
    assert_eq!(in_library, 1);
    assert_eq!(common::status(&config)["index_files"].as_u64(), Some(in_library));
}

/// A PNG re-save of a camera JPEG: the same pixels, other bytes (matched
/// through the kept pHash index, not by content).
fn png_resave(jpeg: &Path, png: &Path) {
    let data = std::fs::read(jpeg).unwrap();
    let rgb = turbojpeg::decompress(&data, turbojpeg::PixelFormat::RGB).unwrap();
    image::RgbImage::from_raw(rgb.width as u32, rgb.height as u32, rgb.pixels).unwrap().save(png).unwrap();
}

/// The library is read once, before the first batch (its pictures match
/// what comes), and never walked again for a batch: a photo copied into it
/// behind the daemon's back is not in the index after the next batch. A
/// `cbctl rescan` brings it in, and the kept index is read again at once,
/// so its re-save is set aside as its duplicate.
#[test]
fn the_library_is_read_once_not_for_each_batch_and_a_rescan_brings_in_what_came_behind_its_back() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let (inbox, lib, stage) = (t.path().join("inbox"), t.path().join("lib"), t.path().join("stage"));
    std::fs::create_dir_all(lib.join("2008/05")).unwrap();
    std::fs::create_dir_all(&stage).unwrap();
    let a = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    std::fs::copy(&a, lib.join("2008/05/A.jpg")).unwrap();
    let _daemon = common::start_daemon_logged(&config, &t.path().join("daemon.log"));
    let counts = |key: &str| common::status(&config)["total"][key].as_u64().unwrap_or(0);
    let index_files = || common::status(&config)["index_files"].as_u64().unwrap_or(0);

    png_resave(&a, &stage.join("a.png"));
    std::fs::rename(stage.join("a.png"), inbox.join("a.png")).unwrap();
    wait_for("the re-save of a library photo set aside", Duration::from_secs(30), || counts("skipped") == 1);
    assert_eq!(counts("filed"), 0);

    // Behind the daemon's back: not walked for the next batch.
    let b = corpus.join("exif-samples/jpg/gps/DSCN0010.jpg");
    std::fs::create_dir_all(lib.join("2008/10")).unwrap();
    std::fs::copy(&b, lib.join("2008/10/B.jpg")).unwrap();
    let c = corpus.join("exif-samples/jpg/Nikon_D70.jpg");
    std::fs::copy(&c, inbox.join("c.jpg")).unwrap();
    wait_for("a new photo filed", Duration::from_secs(30), || counts("filed") == 1);
    assert_eq!(index_files(), 2, "the library was walked for a batch");

    let out = common::run(common::ctl(&config).arg("rescan"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(index_files(), 3);
    png_resave(&b, &stage.join("b.png"));
    std::fs::rename(stage.join("b.png"), inbox.join("b.png")).unwrap();
    wait_for("the re-save of the photo copied in by hand set aside", Duration::from_secs(30), || {
        counts("skipped") == 2
    });
    assert_eq!(counts("filed"), 1);
    assert!(!lib.join("2008/10/b.png").exists());
    assert_eq!(common::b3(&lib.join("2008/10/B.jpg")), common::b3(&b));
}

#[test]
fn the_first_read_of_a_big_library_shows_files_done_of_total_and_an_eta_while_filing_waits() {
    let t = tempfile::tempdir().unwrap();
    let config = common::daemon_config(t.path(), 1);
    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    // Enough distinct photos that the first read takes seconds, not a blink.
    // (8,001 made, the last one kept back as the new photo: all distinct.)
    let folder = lib.join("2020/01");
    let photos = common::make_photos(&folder, 8001);
    let stage = t.path().join("new.jpg");
    std::fs::rename(folder.join("IMG_08000.jpg"), &stage).unwrap();
    let new_hash = common::b3(&stage);
    let _daemon = start_daemon(&config);
    std::fs::rename(&stage, inbox.join("new.jpg")).unwrap();
    let mut seen = None;
    wait_for("the first read's progress in cbctl status --json", Duration::from_secs(60), || {
        let out = common::ctl(&config).args(["--json", "status"]).output();
        let Some(v) = out.ok().and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok()) else {
            return false;
        };
        let c = &v["library_check"];
        let (done, total) = (c["done"].as_u64().unwrap_or(0), c["total"].as_u64().unwrap_or(0));
        if total > 0 && done > 0 && done < total && c["eta_seconds"].is_u64() {
            seen = Some(v);
        }
        seen.is_some()
    });
    let v = seen.unwrap();
    assert_eq!(v["library_check"]["total"], 8000, "{v}");
    assert_eq!(v["library_check"]["filing_waits"], true, "{v}");
    assert_eq!(v["total"]["filed"], 0, "nothing is filed before the library is read: {v}");
    // The same read as text: done/total, the rate and the time left.
    let mut line = String::new();
    wait_for("the first read's progress in cbctl status", Duration::from_secs(30), || {
        let out = common::run(common::ctl(&config).arg("status"));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        line = text.lines().find(|l| l.contains("reading the library")).unwrap_or_default().to_string();
        line.contains("/s, eta ")
    });
    assert!(
        line.starts_with("index:   reading the library, filing waits: ") && line.contains("/8000 files ("),
        "{line}"
    );
    wait_for("the new photo filed once the library is read", Duration::from_secs(120), || {
        common::status(&config)["total"]["filed"] == 1
    });
    let after = common::status(&config);
    assert!(after.get("library_check").is_none(), "no check left running: {after}");
    assert_eq!(after["index_files"], photos.len() as u64);
    assert_eq!(common::contents(&lib).get(&new_hash), Some(&1), "the new photo is in the library once");
    assert!(!inbox.join("new.jpg").exists());
}
