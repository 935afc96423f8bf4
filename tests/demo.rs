//! `guard demo` run as a new user would run it without a terminal: reads come back masked, the
//! DELETE is refused (nobody is there to approve it), egress to an unlisted host is refused, and
//! the demo API's token never reaches the command.

mod support;

use support::{Home, stderr, stdout};

#[test]
fn the_demo_masks_reads_refuses_the_delete_and_the_egress() {
    let home = Home::new();
    let script = r#"
        curl -s "$DEMO_API_URL/customers"; echo
        curl -s -X DELETE "$DEMO_API_URL/customers/2"; echo
        curl -s -o /dev/null https://example.com; echo "egress exit $?"
        env | grep -c GUARD_DEMO_API_TOKEN
        curl -s "$DEMO_API_URL/customers" | grep -c 'Alan Turing'
    "#;
    let out = home
        .guard()
        .args(["demo", "--", "sh", "-c", script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out).replace("\r\n", "\n");
    assert!(
        text.contains("Ada Lovelace"),
        "harmless columns pass: {text}"
    );
    for raw in [
        "ada@example.com",
        "4111 1111 1111 1111",
        "123-45-6789",
        "sk_live_",
    ] {
        assert!(!text.contains(raw), "{raw} reached the command: {text}");
    }
    assert!(
        text.contains("a***@example.com") && text.contains("**** **** **** 1111"),
        "masked with a hint of the shape: {text}"
    );
    assert!(
        text.contains("guard: rejected: DELETE /customers/2"),
        "{text}"
    );
    assert!(
        text.contains("egress exit 56"),
        "curl's CONNECT was refused: {text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[lines.len() - 2],
        "0",
        "the token is not in the command's environment"
    );
    assert_eq!(
        lines[lines.len() - 1],
        "1",
        "the refused DELETE changed nothing"
    );
    let err = stderr(&out);
    assert!(
        err.contains("$DEMO_API_URL/customers"),
        "the banner names what to try: {err}"
    );
    assert!(err.contains("guard show last"), "{err}");
    let shown = stdout(&home.run(&["show", "last"]));
    assert!(shown.contains("rejected"), "{shown}");
    assert!(
        shown.contains("example.com:443"),
        "the refused egress is listed: {shown}"
    );
    assert!(
        shown.contains("email 6") && shown.contains("ssn 6"),
        "masked counts by kind: {shown}"
    );
    assert!(home.run(&["verify", "last"]).status.success());
    for entry in std::fs::read_dir(home.last_session()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let file = String::from_utf8_lossy(&bytes);
        for raw in ["ada@example.com", "123-45-6789", "4111 1111 1111 1111"] {
            assert!(!file.contains(raw), "{raw} is in a session file");
        }
    }
}
