//! `guard mask test` masks standard input with the configured rules and prints what the agent
//! would see.

mod support;

use std::io::Write;
use std::process::{Output, Stdio};

use support::{Home, stderr, stdout};

fn mask_test(home: &Home, args: &[&str], input: &str) -> Output {
    let mut child = home
        .guard()
        .args(["mask", "test"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // guard may exit before reading (a bad config): its output then tells what went wrong.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

#[test]
fn masks_standard_input_with_the_default_rules() {
    let home = Home::new();
    let out = mask_test(
        &home,
        &[],
        "mail bob@example.com card 4111 1111 1111 1111\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "mail b***@example.com card **** **** **** 1111\n"
    );
}

#[test]
fn json_output_counts_what_was_masked() {
    let home = Home::new();
    let input = "bob@example.com, ann@example.com\nssn 123-45-6789 and 4111111111111111\n";
    let out = mask_test(&home, &["--json"], input);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["masked"],
        serde_json::json!({"count": 4, "kinds": {"credit_card": 1, "email": 2, "ssn": 1}})
    );
    let text = doc["text"].as_str().unwrap();
    assert!(
        text.starts_with("b***@example.com, a***@example.com\nssn ***-**-6789"),
        "{text}"
    );
}

#[test]
fn a_config_with_token_style_and_columns() {
    let home = Home::new();
    let config = home.path().join("mask.toml");
    std::fs::write(
        &config,
        "[mask]\nstyle = \"token\"\ncolumns = [\"customer_*\"]\n",
    )
    .unwrap();
    let input = concat!(
        r#"{"customer_name": "Jane Roe", "email": "bob@example.com", "id": 7}"#,
        "\n",
        "again bob@example.com\n"
    );
    let out = mask_test(&home, &["-c", config.to_str().unwrap()], input);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let doc: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let name = doc["customer_name"].as_str().unwrap();
    let email = doc["email"].as_str().unwrap();
    assert!(name.starts_with("masked_") && name.len() == 19, "{name}");
    assert!(email.starts_with("email_") && email.len() == 18, "{email}");
    assert_eq!(doc["id"], 7);
    // The same address in free text gets the same token: the agent can still join on it.
    assert_eq!(lines[1], format!("again {email}"));
    assert!(!text.contains("bob@") && !text.contains("Jane"));
}

#[test]
fn a_bad_mask_section_names_file_line_and_key() {
    let home = Home::new();
    let config = home.path().join("guard.toml");
    std::fs::write(&config, "[mask]\ndetectors = [\"email\", \"emial\"]\n").unwrap();
    let out = mask_test(&home, &[], "x\n");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("guard: guard.toml:2: [mask] key `detectors`"),
        "{err}"
    );
    assert!(err.contains("unknown detector `emial`"), "{err}");
}
