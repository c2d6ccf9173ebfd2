//! Man pages and shell completions generated from the clap definitions:
//! `cbctl generate-docs DIR` writes pages that `man` renders without a
//! warning, with the text users look for; `cbctl completions bash` gives a
//! script bash loads and that completes subcommands and options.

use std::path::Path;
use std::process::Command;

fn cbctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cbctl"))
}

/// `man -l FILE` as plain text with its spacing collapsed (justification
/// pads lines); fails the test on any groff warning.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "250")
        .output()
        .expect("man (apt-get install man-db groff-base)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{}: {stderr}", page.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn generated_man_pages_render_cleanly_and_say_what_users_look_for() {
    let t = tempfile::tempdir().unwrap();
    let out = cbctl().arg("generate-docs").arg(t.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let man = t.path().join("man");
    let mut names: Vec<String> =
        std::fs::read_dir(&man).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for want in
        ["cbctl.1", "cbctl-why.1", "cbctl-organize.1", "cbctl-config-set.1", "clean-backupd.8", "clean-backup.toml.5"]
    {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    assert!(names.iter().any(|n| n == "cbctl-generate-docs.1"), "generate-docs is listed and has a page: {names:?}");
    for name in &names {
        render(&man.join(name));
    }
    let cbctl = render(&man.join("cbctl.1"));
    for want in ["cbctl - Control clean-backup", "why", "completions", "Exit status: 0 success; 1 some files failed"] {
        assert!(cbctl.contains(want), "cbctl(1) lacks {want:?}: {cbctl}");
    }
    let why = render(&man.join("cbctl-why.1"));
    assert!(why.contains("cbctl-why - Explain what clean-backup did with a file and why"), "{why}");
    assert!(why.contains("the library file it duplicates"), "{why}");
    let daemon = render(&man.join("clean-backupd.8"));
    for want in ["--check-config [<FILE>]", "SIGHUP re-reads the config", "/etc/clean-backup/config.toml"] {
        assert!(daemon.contains(want), "clean-backupd(8) lacks {want:?}:\n{daemon}");
    }
    let config = render(&man.join("clean-backup.toml.5"));
    for want in
        ["dedup.on_duplicate (default \"skip\")", "watch.settle_seconds (default 5)", "[[inbox]] path", "EXAMPLE"]
    {
        assert!(config.contains(want), "clean-backup.toml(5) lacks {want:?}:\n{config}");
    }

    let completions = t.path().join("completions");
    for name in ["cbctl.bash", "_cbctl", "cbctl.fish"] {
        let text = std::fs::read_to_string(completions.join(name)).unwrap();
        assert!(text.contains("organize") && text.contains("why"), "{name}");
    }
}

#[test]
fn bash_completion_completes_subcommands_and_options() {
    let out = cbctl().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let t = tempfile::tempdir().unwrap();
    let script = t.path().join("cbctl.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Load it as bash-completion would, then ask it to complete `cbctl w` and `cbctl dedup --ac`.
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
             _cbctl cbctl \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(complete("cbctl w", 1), ["why"]);
    assert!(complete("cbctl dedup --ac", 2).contains(&"--action".to_string()));
    let shells = complete("cbctl completions ''", 2);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.contains(&shell.to_string()), "{shells:?}");
    }
    // Unknown shells are a usage error.
    let out = cbctl().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The body of section `title` in a roff page: from its `.SH` line to the next.
fn section<'a>(roff: &'a str, title: &str) -> Option<&'a str> {
    let header = [format!(".SH {title}\n"), format!(".SH \"{title}\"\n")];
    let start = header.iter().find_map(|h| roff.find(h.as_str()).map(|i| i + h.len()))?;
    let body = &roff[start..];
    Some(&body[..body.find("\n.SH ").map_or(body.len(), |i| i + 1)])
}

#[test]
fn every_man_page_has_examples_and_an_exit_status() {
    let t = tempfile::tempdir().unwrap();
    let out = cbctl().arg("generate-docs").arg(t.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let man = t.path().join("man");
    let mut pages = 0;
    for entry in std::fs::read_dir(&man).unwrap() {
        let path = entry.unwrap().path();
        let roff = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        pages += 1;
        for title in ["EXAMPLES", "EXIT STATUS"] {
            let body = section(&roff, title).unwrap_or_else(|| panic!("{name} has no {title} section:\n{roff}"));
            // Each entry is a .TP with a bold first line (the command, or the code) and a line saying what it is.
            let entries: Vec<&str> = body.split(".TP\n").skip(1).collect();
            assert!(!entries.is_empty(), "{name}: {title} is empty:\n{body}");
            for e in &entries {
                let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
                assert!(lines.len() >= 2 && lines[0].starts_with("\\fB"), "{name}: {title} entry {e:?}");
            }
        }
        let codes = section(&roff, "EXIT STATUS").unwrap();
        assert!(codes.contains("\\fB0\\fR"), "{name}: no exit status 0:\n{codes}");
        assert!(codes.contains("\\fB2\\fR"), "{name}: no exit status 2:\n{codes}");
    }
    assert!(pages >= 6, "{pages} pages");

    // As a reader sees them.
    let cbctl = render(&man.join("cbctl.1"));
    for want in [
        "EXIT STATUS 0 Success. 1 Some files failed",
        "2 A usage or config error",
        "3 The daemon is not running",
        "EXAMPLES cbctl status",
        "cbctl undo --last Put back every file the last session moved.",
    ] {
        assert!(cbctl.contains(want), "cbctl(1) lacks {want:?}:\n{cbctl}");
    }
    let undo = render(&man.join("cbctl-undo.1"));
    assert!(undo.contains("cbctl undo 42 Undo session 42"), "{undo}");
    let daemon = render(&man.join("clean-backupd.8"));
    for want in
        ["0 A clean stop (SIGTERM or SIGINT)", "clean-backupd --check-config ~/.config/clean-backup/config.toml"]
    {
        assert!(daemon.contains(want), "clean-backupd(8) lacks {want:?}:\n{daemon}");
    }
    assert!(!daemon.contains("3 The daemon is not running"), "the daemon has only 0 and 2: {daemon}");
    let config = render(&man.join("clean-backup.toml.5"));
    for want in ["EXIT STATUS", "cbctl config set layout_undated", "layout_undated (default \"undated\")"] {
        assert!(config.contains(want), "clean-backup.toml(5) lacks {want:?}:\n{config}");
    }
}
