//! `guard export`: a session as GitHub-flavoured Markdown for a pull request (stable, no
//! terminal colours, table cells escaped), or as one JSON document with every record.

use std::fmt::Write;

use serde_json::{Value, json};

use super::{Session, clock, masked_text, statement};
use crate::terminal::overlay::sanitize;

/// Statements longer than this go into `<details>` blocks below the table.
const SHORT: usize = 80;

pub fn json(s: &Session) -> String {
    let doc = json!({
        "session": s.meta,
        "verify": {
            "intact": s.verdict.intact(),
            "problems": s.verdict.problems,
            "transcript_sha256": s.verdict.head,
        },
        "records": s.records,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn markdown(s: &Session) -> String {
    let mut out = String::new();
    let name = s.meta["name"]
        .as_str()
        .map(|n| format!(" — {}", cell(n)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "### guard session <code>{}</code>{name}\n",
        cell(&s.id)
    );
    header_table(&mut out, s);
    activity_table(&mut out, s);
    approvals_table(&mut out, s);
    long_statements(&mut out, s);
    out
}

fn header_table(out: &mut String, s: &Session) {
    let verified = if s.verdict.intact() {
        "✅ intact".to_string()
    } else {
        format!("❌ {}", cell(&s.verdict.problems.join("; ")))
    };
    let exit = s.meta["exit_code"]
        .as_i64()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "-".into());
    let rows = [
        ("Command", format!("<code>{}</code>", cell(&s.command()))),
        ("Started", cell(s.meta["start"].as_str().unwrap_or(""))),
        ("Duration", s.duration()),
        ("Exit code", exit),
        (
            "guard",
            cell(s.meta["guard_version"].as_str().unwrap_or("")),
        ),
        (
            "Transcript SHA-256",
            format!("<code>{}</code>", s.verdict.head.as_deref().unwrap_or("-")),
        ),
        ("Verified", verified),
    ];
    out.push_str("| | |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out.push('\n');
}

fn activity_table(out: &mut String, s: &Session) {
    let activity = s.activity();
    let counts: Vec<String> = s
        .decisions()
        .iter()
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "#### Statements and requests: {} ({})\n",
        activity.len(),
        counts.join(", ")
    );
    if activity.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push_str("| Time | Target | Class | Decision | Rows | Masked | Statement |\n");
    out.push_str("|---|---|---|---|---:|---|---|\n");
    for a in &activity {
        let r = a.record;
        let text = sanitize(&statement(r));
        let shown: String = text.chars().take(SHORT).collect();
        let more = if text.chars().count() > SHORT {
            "…"
        } else {
            ""
        };
        let rows = a
            .result
            .and_then(|x| x["rows"].as_u64().or(x["status"].as_u64()))
            .map(|n| n.to_string())
            .unwrap_or_default();
        let masked = a
            .result
            .map(|x| masked_text(&x["masked"]))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {rows} | {} | <code>{}</code>{more} |",
            clock(r),
            cell(r["target"].as_str().unwrap_or("")),
            cell(r["class"].as_str().unwrap_or("")),
            cell(r["decision"].as_str().unwrap_or("")),
            cell(&masked),
            cell(&shown)
        );
    }
    out.push('\n');
}

fn approvals_table(out: &mut String, s: &Session) {
    let approvals: Vec<&Value> = s.of_type("approval").collect();
    if approvals.is_empty() {
        return;
    }
    out.push_str("#### Approvals\n\n| Time | Request | Decision | Scope | By | Waited |\n|---|---|---|---|---|---:|\n");
    for a in approvals {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} ms |",
            clock(a),
            cell(a["id"].as_str().unwrap_or("")),
            cell(a["decision"].as_str().unwrap_or("")),
            cell(a["scope"].as_str().unwrap_or("")),
            cell(a["via"].as_str().unwrap_or("")),
            a["wait_ms"].as_u64().unwrap_or(0)
        );
    }
    out.push('\n');
}

fn long_statements(out: &mut String, s: &Session) {
    for a in s.activity() {
        let text = sanitize(&statement(a.record));
        if text.chars().count() <= SHORT {
            continue;
        }
        let r = a.record;
        // The raw statement with its line breaks, minus control characters.
        let raw: String = statement(r)
            .chars()
            .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
            .collect();
        let fence = "`".repeat(longest_backtick_run(&raw).max(2) + 1);
        let _ = writeln!(
            out,
            "<details><summary>{} {} {} — {}</summary>\n\n{fence}sql\n{}\n{fence}\n\n</details>\n",
            clock(r),
            html(r["target"].as_str().unwrap_or("")),
            html(r["class"].as_str().unwrap_or("")),
            html(r["decision"].as_str().unwrap_or("")),
            raw
        );
    }
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Escapes text for HTML.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a GFM table cell: HTML-escaped, pipes and line breaks neutralised.
fn cell(text: &str) -> String {
    html(text)
        .replace('|', "&#124;")
        .replace(['\n', '\r'], " ")
        .replace('`', "&#96;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc `x` <y>"), "a&#124;b c &#96;x&#96; &lt;y&gt;");
    }

    #[test]
    fn fences_outgrow_backticks_in_the_statement() {
        assert_eq!(longest_backtick_run("select '```'"), 3);
    }
}
