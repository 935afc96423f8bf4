//! Approvals in a real terminal (tmux): the overlay over a full-screen child and the child's
//! screen back exactly after it, an agent that cannot answer its own approval, and egress that
//! asks. The upstream is a real HTTP service on loopback.

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use std::path::Path;

use support::Home;
use support::tmux::Tmux;
use upstream::Upstream;

/// Runs `guard -q <args> -- sh child.sh` in a 100x30 window, with `script` as child.sh.
fn start(home: &Home, args: &str, script: &str) -> Tmux {
    std::fs::write(home.path().join("child.sh"), script).unwrap();
    Tmux::run(
        home,
        (100, 30),
        &Tmux::guard_line(home, &format!("-q {args} -- sh child.sh")),
    )
}

fn config(home: &Home, up: &Upstream, egress: &str) {
    let text = format!(
        "[[target]]\nname = \"shop\"\nkind = \"http\"\nupstream = \"http://127.0.0.1:{}\"\n\n[egress]\n{egress}\n",
        up.port
    );
    std::fs::write(home.path().join("guard.toml"), text).unwrap();
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_full_screen_child_comes_back_exactly_after_the_overlay() {
    let up = Upstream::start();
    let home = Home::new();
    config(&home, &up, "mode = \"off\"");
    let script =
        "(sleep 2; curl -s -X DELETE \"$SHOP_URL/customers/2\" > out.txt) &\nseq 1 500 | less\n";
    let tmux = start(&home, "-c guard.toml", script);
    let before = tmux.wait("less", |s| s.contains("\n29\n") && !s.contains("approval"));
    let overlay = tmux.wait("the overlay", |s| s.contains("guard: approval needed"));
    assert!(overlay.contains("DELETE /customers/2"), "{overlay}");
    tmux.cmd(&["send-keys", "n"]);
    let after = tmux.wait("the overlay to go", |s| !s.contains("approval needed"));
    assert_eq!(after, before, "less's screen is back exactly");
    tmux.cmd(&["send-keys", "q"]);
    tmux.wait("guard to end", |s| s.contains("GUARD-EXIT=0"));
    let out = std::fs::read_to_string(home.path().join("out.txt")).unwrap();
    assert!(out.contains("guard: rejected"), "{out}");
    assert!(
        up.seen().iter().all(|s| s.method != "DELETE"),
        "the upstream saw no DELETE"
    );
    let cast = std::fs::read_to_string(home.last_session().join("session.cast")).unwrap();
    assert!(
        !cast.contains("approval needed"),
        "nothing of the overlay is recorded"
    );
    assert!(
        cast.contains("\"m\", \"rejected write on shop"),
        "a marker is: {cast}"
    );
}

#[test]
fn the_child_cannot_answer_its_own_approval() {
    let up = Upstream::start();
    let home = Home::new();
    config(&home, &up, "mode = \"off\"");
    // While the overlay is up the child prints `y`, asks the terminal for a cursor report
    // (whose reply comes back on guard's stdin), and pushes `y` into its own terminal's input.
    let script = r#"(sleep 1; curl -s -X DELETE "$SHOP_URL/customers/1" > out.txt) &
sleep 2
printf 'y a \033[6n y'
python3 -c 'import fcntl, termios; [fcntl.ioctl(0, termios.TIOCSTI, b) for b in (b"y", b"a")]' 2>/dev/null
sleep 4
"#;
    let tmux = start(&home, "-c guard.toml --approval-timeout 3s", script);
    tmux.wait("the overlay", |s| s.contains("guard: approval needed"));
    tmux.wait("guard to end", |s| s.contains("GUARD-EXIT="));
    let out = std::fs::read_to_string(home.path().join("out.txt")).unwrap();
    assert!(out.contains("approval timed out"), "nobody answered: {out}");
    assert!(up.seen().iter().all(|s| s.method != "DELETE"));
    let recs = records(&home.last_session());
    let approval = recs.iter().find(|r| r["type"] == "approval").unwrap();
    assert_eq!(approval["decision"], "timeout", "{approval}");
}

#[test]
fn egress_that_asks_shows_the_overlay_and_n_refuses() {
    let up = Upstream::start();
    let home = Home::new();
    config(&home, &up, "mode = \"ask\"\nallow = []");
    // `blocked.invalid` is never resolved: the proxy decides on the CONNECT before that.
    let script = "curl -s -o /dev/null https://blocked.invalid/; echo \"curl exit $?\"\n";
    let tmux = start(&home, "-c guard.toml", script);
    let overlay = tmux.wait("the overlay", |s| s.contains("guard: approval needed"));
    assert!(overlay.contains("blocked.invalid"), "{overlay}");
    tmux.cmd(&["send-keys", "n"]);
    let screen = tmux.wait("curl to end", |s| s.contains("curl exit"));
    assert!(
        screen.contains("curl exit 56"),
        "the CONNECT was refused: {screen}"
    );
    let recs = records(&home.last_session());
    let egress = recs.iter().find(|r| r["type"] == "egress").unwrap();
    assert_eq!(egress["host"], "blocked.invalid");
    assert_eq!(egress["decision"], "rejected", "{egress}");
}

#[test]
fn an_approved_http_write_goes_through_from_the_terminal() {
    let up = Upstream::start();
    let home = Home::new();
    config(&home, &up, "mode = \"off\"");
    let script =
        "curl -s -o /dev/null -w 'status %{http_code}\\n' -X DELETE \"$SHOP_URL/customers/1\"\n";
    let tmux = start(&home, "-c guard.toml", script);
    tmux.wait("the overlay", |s| s.contains("guard: approval needed"));
    tmux.cmd(&["send-keys", "y"]);
    let screen = tmux.wait("curl to end", |s| s.contains("status "));
    assert!(screen.contains("status 200"), "{screen}");
    assert!(up.seen().iter().any(|s| s.method == "DELETE"));
}
