//! Reading sessions back: `guard show`, `guard export` (Markdown, JSON, HTML that renders in a
//! real browser) and `guard replay`.

mod support;

use std::time::{Duration, Instant};

use support::{Home, stdout};

fn recorded(home: &Home) {
    let script = "printf '\\033[31mred alert\\033[0m\\n'; echo 'pipes | and <tags> & stuff'";
    assert!(
        home.run(&["-q", "-n", "review-me", "--", "sh", "-c", script])
            .status
            .success()
    );
}

#[test]
fn show_summarises_without_colour_when_piped() {
    let home = Home::new();
    recorded(&home);
    let out = stdout(&home.run(&["show", "last"]));
    assert!(out.contains("review-me"), "{out}");
    assert!(out.contains("verify    intact"), "{out}");
    assert!(!out.contains('\x1b'), "no colour on a pipe");
}

#[test]
fn markdown_export_is_a_stable_pull_request_comment() {
    let home = Home::new();
    recorded(&home);
    let first = stdout(&home.run(&["export", "last"]));
    let second = stdout(&home.run(&["export", "last", "--format", "markdown"]));
    assert_eq!(first, second, "stable output");
    assert!(first.starts_with("### guard session <code>"), "{first}");
    assert!(first.contains("| Verified | ✅ intact |"), "{first}");
    assert!(!first.contains('\x1b'));
}

#[test]
fn json_export_holds_every_record() {
    let home = Home::new();
    recorded(&home);
    let out = home.run(&["export", "last", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verify"]["intact"], true);
    assert_eq!(doc["session"]["name"], "review-me");
    let types: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["session_start", "session_end"]);
}

#[test]
fn html_export_plays_the_recording_in_a_real_browser() {
    let home = Home::new();
    recorded(&home);
    let page = home.path().join("session.html");
    assert!(
        home.run(&[
            "export",
            "last",
            "--format",
            "html",
            "-o",
            page.to_str().unwrap()
        ])
        .status
        .success()
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    let out = chromium(&home, &page, "--dump-dom");
    let dom = stdout(&out);
    let screen = dom
        .split("<pre id=\"screen\">")
        .nth(1)
        .expect("the screen element")
        .split("</pre>")
        .next()
        .unwrap();
    assert!(
        screen.contains("red alert"),
        "the last frame is drawn by the page's script: {screen}"
    );
    assert!(screen.contains("color:#cd3131"), "with its colours");
    assert!(
        screen.contains("pipes | and &lt;tags&gt; &amp; stuff"),
        "{screen}"
    );
    assert!(
        dom.contains("id=\"play\"") && dom.contains("<table"),
        "the player and the table"
    );
    // And as a person sees it: a screenshot of the rendered page.
    let shot = home.path().join("session.png");
    let out = chromium(&home, &page, &format!("--screenshot={}", shot.display()));
    let png =
        std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", support::stderr(&out)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture of the page"
    );
}

/// Headless Chromium on a local page, with the flags that keep it off the network.
fn chromium(home: &Home, page: &std::path::Path, what: &str) -> std::process::Output {
    std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1000,800",
        ])
        .arg(format!(
            "--user-data-dir={}",
            home.path().join("chromium-profile").display()
        ))
        .arg(what)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (Debian package `chromium`)")
}

#[test]
fn replay_writes_the_output_through_without_a_terminal() {
    let home = Home::new();
    recorded(&home);
    let out = stdout(&home.run(&["replay", "last"]));
    assert!(out.contains("\x1b[31mred alert"), "{out}");
}

#[test]
fn replay_in_a_terminal_quits_on_q() {
    let home = Home::new();
    assert!(
        home.run(&["-q", "--", "sh", "-c", "echo one; sleep 3; echo two"])
            .status
            .success()
    );
    let mut term = support::term::Term::spawn(&home, &["replay", "last"], (80, 24), &[]);
    term.expect("one");
    let asked = Instant::now();
    term.send(b"q");
    assert_eq!(term.wait(), 0);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "q stops the replay"
    );
    assert!(!term.output().contains("two"));
}
