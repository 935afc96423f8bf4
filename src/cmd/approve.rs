//! `guard approve`: list the requests a session run with `--approver socket` is holding, or
//! answer one with the one-time code guard printed on its own terminal.

use serde_json::{Value, json};

use crate::approval::socket;
use crate::cli::ApproveArgs;
use crate::cmd::{CliError, resolve_session};

pub fn cmd_approve(args: ApproveArgs) -> Result<i32, CliError> {
    let (id, dir) = resolve_session(&args.session)?;
    let path = dir.join("approve.sock");
    let request = match &args.request {
        None => json!({"op": "list"}),
        Some(request) => json!({
            "op": "answer",
            "request": request,
            "code": args.code.clone().unwrap_or_default(),
            "allow": args.allow,
        }),
    };
    let reply = socket::call(&path, &request).map_err(|e| {
        CliError::new(1, format!("cannot reach session {id}: {e}"))
            .hint("the session must be running with --approver socket; `guard sessions` lists them")
    })?;
    if let Some(error) = reply["error"].as_str() {
        return Err(CliError::new(1, error.to_string()).hint(
            "`guard approve` lists the pending requests; the code is on guard's own terminal",
        ));
    }
    match &args.request {
        None => print_pending(&reply["pending"]),
        Some(request) => println!(
            "{request}: {}",
            if args.allow { "allowed" } else { "denied" }
        ),
    }
    Ok(0)
}

fn print_pending(pending: &Value) {
    let list = pending.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        println!("no requests waiting");
        return;
    }
    println!(
        "{:<14} {:<12} {:<10} {:>5}  STATEMENT",
        "REQUEST", "TARGET", "CLASS", "LEFT"
    );
    for p in list {
        let text = crate::terminal::overlay::sanitize(p["statement"].as_str().unwrap_or(""));
        println!(
            "{:<14} {:<12} {:<10} {:>4}s  {}",
            p["request"].as_str().unwrap_or(""),
            p["target"].as_str().unwrap_or(""),
            p["class"].as_str().unwrap_or(""),
            p["seconds_left"].as_u64().unwrap_or(0),
            text.chars().take(80).collect::<String>()
        );
    }
}
