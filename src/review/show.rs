//! `guard show`: a terminal summary of one session, coloured when stdout is a terminal and
//! `NO_COLOR` is unset: what ran, against what, which credentials lived how long, every
//! statement a person refused, approved or never answered, masked values, refused egress, and
//! whether the records verify.

use std::fmt::Write;

use serde_json::Value;

use super::{Session, clock, masked_text, statement};
use crate::terminal::overlay::sanitize;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn decision(&self, decision: &str) -> String {
        let code = match decision {
            "allow" | "approved" => "32",
            "deny" | "rejected" | "timeout" => "31",
            _ => "33",
        };
        self.paint(code, decision)
    }
}

pub fn render(s: &Session, style: &Style) -> String {
    let mut out = String::new();
    let name = s.meta["name"]
        .as_str()
        .map(|n| format!("  \"{n}\""))
        .unwrap_or_default();
    let _ = writeln!(out, "{}{name}", style.bold(&format!("Session {}", s.id)));
    let exit = s.meta["exit_code"]
        .as_i64()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "  command   {}", sanitize(&s.command()));
    let _ = writeln!(out, "  cwd       {}", s.meta["cwd"].as_str().unwrap_or(""));
    let _ = writeln!(
        out,
        "  started   {}   duration {}   exit {exit}",
        s.meta["start"].as_str().unwrap_or(""),
        s.duration()
    );
    let _ = writeln!(
        out,
        "  guard     {}",
        s.meta["guard_version"].as_str().unwrap_or("")
    );
    targets(&mut out, s);
    credentials(&mut out, s, style);
    statements(&mut out, s, style);
    let masked = s.masked();
    if !masked.is_empty() {
        let list: Vec<String> = masked.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "{}\n  {}", style.bold("Masked"), list.join(", "));
    }
    egress(&mut out, s, style);
    let _ = writeln!(out, "{}", style.bold("Records"));
    let _ = writeln!(
        out,
        "  transcript sha256 {}",
        s.verdict.head.as_deref().unwrap_or("-")
    );
    if s.verdict.intact() {
        let _ = writeln!(out, "  verify    {}", style.paint("32", "intact"));
    } else {
        for problem in &s.verdict.problems {
            let _ = writeln!(
                out,
                "  verify    {}",
                style.paint("31", &format!("FAILED: {problem}"))
            );
        }
    }
    out
}

fn targets(out: &mut String, s: &Session) {
    let Some(start) = s.of_type("session_start").next() else {
        return;
    };
    for t in start["targets"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  target    {} ({}) {} -> {}",
            t["name"].as_str().unwrap_or(""),
            t["kind"].as_str().unwrap_or(""),
            t["listen"].as_str().unwrap_or(""),
            t["upstream"].as_str().unwrap_or("")
        );
    }
}

fn credentials(out: &mut String, s: &Session, style: &Style) {
    let creds: Vec<&Value> = s.of_type("credential").collect();
    if creds.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", style.bold("Credentials"));
    for c in creds {
        let _ = writeln!(
            out,
            "  {}  {:<10} {:<8} {} {}",
            clock(c),
            c["target"].as_str().unwrap_or(""),
            c["action"].as_str().unwrap_or(""),
            c["lease_id"]
                .as_str()
                .unwrap_or(c["source"].as_str().unwrap_or("")),
            c["ttl_s"]
                .as_u64()
                .map(|t| format!("ttl {t}s"))
                .unwrap_or_default()
        );
    }
}

fn statements(out: &mut String, s: &Session, style: &Style) {
    let activity = s.activity();
    if activity.is_empty() {
        return;
    }
    let counts: Vec<String> = s
        .decisions()
        .iter()
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "{}  {} ({})",
        style.bold("Statements"),
        activity.len(),
        counts.join(", ")
    );
    for a in activity.iter().filter(|a| a.record["decision"] != "allow") {
        let r = a.record;
        let who = a
            .approval
            .map(|ap| {
                format!(
                    " by {} after {} ms",
                    ap["via"].as_str().unwrap_or(""),
                    ap["wait_ms"]
                )
            })
            .unwrap_or_default();
        let text: String = sanitize(&statement(r)).chars().take(100).collect();
        let _ = writeln!(
            out,
            "  {}  {:<10} {:<9} {}{who}  [{}]\n      {text}",
            clock(r),
            r["target"].as_str().unwrap_or(""),
            r["class"].as_str().unwrap_or(""),
            style.decision(r["decision"].as_str().unwrap_or("")),
            r["rule"].as_str().unwrap_or("default")
        );
        if let Some(masked) = a
            .result
            .map(|x| masked_text(&x["masked"]))
            .filter(|m| !m.is_empty())
        {
            let _ = writeln!(out, "      masked {masked}");
        }
    }
}

fn egress(out: &mut String, s: &Session, style: &Style) {
    let refused: Vec<&Value> = s
        .of_type("egress")
        .filter(|e| e["decision"] != "allow")
        .collect();
    if refused.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", style.bold("Egress refused"));
    for e in refused {
        let _ = writeln!(
            out,
            "  {}  {}:{}  {}",
            clock(e),
            e["host"].as_str().unwrap_or(""),
            e["port"],
            style.decision(e["decision"].as_str().unwrap_or(""))
        );
    }
}
