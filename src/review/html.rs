//! `guard export --format html`: one self-contained page (no network needed to open it) with the
//! session summary and the terminal recording, played in the page.
//!
//! The recording is rendered here, not by a third-party player: the cast is replayed through a
//! vt100 model and the screen is captured as frames of HTML rows; identical rows are stored once,
//! frames refer to them by number, and a few lines of script step through the frames in time.

use std::collections::HashMap;
use std::fmt::Write;
use std::num::NonZeroU16;

use serde_json::{Value, json};

use super::export::html;
use super::{Session, clock, masked_text, statement};
use crate::terminal::overlay::sanitize;

/// At most this many frames; a longer recording is sampled more coarsely.
const MAX_FRAMES: usize = 3000;

/// A recording rendered into frames.
struct Frames {
    rows: Vec<String>,
    /// (seconds, row numbers, marker label)
    frames: Vec<(f64, Vec<usize>, Option<String>)>,
}

pub fn render(s: &Session) -> String {
    let cast = std::fs::read_to_string(s.dir.join("session.cast")).unwrap_or_default();
    let frames = frames(&cast);
    let data = json!({
        "rows": frames.rows,
        "frames": frames.frames.iter().map(|(t, r, m)| json!([t, r, m])).collect::<Vec<_>>(),
    });
    // `</` cannot close the script element from inside the JSON.
    let data = data.to_string().replace("</", "<\\/");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>guard session {id}</title><style>{CSS}</style></head><body>\n\
         <h1>guard session <code>{id}</code></h1>\n",
        id = html(&s.id)
    );
    summary(&mut out, s);
    let _ = write!(
        out,
        "<h2>Terminal</h2>\n<div id=\"controls\"><button id=\"play\">play</button> \
         <input id=\"seek\" type=\"range\" min=\"0\" value=\"0\"> <span id=\"time\"></span> \
         <select id=\"speed\"><option>1</option><option>2</option><option>4</option><option>8</option></select>x</div>\n\
         <pre id=\"screen\"></pre>\n<ul id=\"markers\"></ul>\n\
         <script id=\"cast\" type=\"application/json\">{data}</script>\n<script>{JS}</script>\n</body></html>\n"
    );
    out
}

fn summary(out: &mut String, s: &Session) {
    let verified = if s.verdict.intact() {
        "intact".to_string()
    } else {
        format!("FAILED: {}", s.verdict.problems.join("; "))
    };
    let exit = s.meta["exit_code"]
        .as_i64()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "-".into());
    let _ = write!(out, "<table class=\"meta\">");
    for (k, v) in [
        ("Command", s.command()),
        (
            "Started",
            s.meta["start"].as_str().unwrap_or("").to_string(),
        ),
        ("Duration", s.duration()),
        ("Exit code", exit),
        (
            "guard",
            s.meta["guard_version"].as_str().unwrap_or("").to_string(),
        ),
        (
            "Transcript SHA-256",
            s.verdict.head.clone().unwrap_or_default(),
        ),
        ("Verified", verified),
    ] {
        let _ = write!(out, "<tr><th>{k}</th><td>{}</td></tr>", html(&sanitize(&v)));
    }
    let _ = writeln!(out, "</table>");
    let activity = s.activity();
    let _ = writeln!(out, "<h2>Statements and requests ({})</h2>", activity.len());
    if activity.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<table><tr><th>Time</th><th>Target</th><th>Class</th><th>Decision</th><th>Rows</th>\
         <th>Masked</th><th>Statement</th></tr>"
    );
    for a in activity {
        let r = a.record;
        let rows = a
            .result
            .and_then(|x| x["rows"].as_u64().or(x["status"].as_u64()));
        let _ = write!(
            out,
            "<tr class=\"{d}\"><td>{}</td><td>{}</td><td>{}</td><td>{d}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            clock(r),
            html(r["target"].as_str().unwrap_or("")),
            html(r["class"].as_str().unwrap_or("")),
            rows.map(|n| n.to_string()).unwrap_or_default(),
            html(
                &a.result
                    .map(|x| masked_text(&x["masked"]))
                    .unwrap_or_default()
            ),
            html(&sanitize(&statement(r))),
            d = html(r["decision"].as_str().unwrap_or(""))
        );
    }
    let _ = writeln!(out, "</table>");
}

/// Replays the cast through a vt100 model and captures frames.
fn frames(cast: &str) -> Frames {
    let mut lines = cast.lines();
    let header: Value = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    let dim = |key: &str, default: u16| {
        NonZeroU16::new(header[key].as_u64().unwrap_or(0).min(1000) as u16)
            .unwrap_or(NonZeroU16::new(default).unwrap_or(NonZeroU16::MIN))
    };
    let mut parser = vt100::Parser::new(dim("height", 24), dim("width", 80), 0);
    let events: Vec<(f64, String, String)> = lines
        .filter_map(|l| serde_json::from_str::<(f64, String, String)>(l).ok())
        .collect();
    let total = events.last().map(|e| e.0).unwrap_or(0.0);
    let step = (total / MAX_FRAMES as f64).max(0.04);
    let mut out = Frames {
        rows: Vec::new(),
        frames: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut last = f64::NEG_INFINITY;
    for (i, (t, code, data)) in events.iter().enumerate() {
        match code.as_str() {
            "o" => parser.process(data.as_bytes()),
            "r" => {
                if let Some((c, r)) = data.split_once('x')
                    && let (Ok(c), Ok(r)) = (c.parse::<u16>(), r.parse::<u16>())
                    && let (Some(c), Some(r)) =
                        (NonZeroU16::new(c.min(1000)), NonZeroU16::new(r.min(1000)))
                {
                    parser.set_size(r, c);
                }
            }
            _ => {}
        }
        let marker = (code == "m").then(|| data.clone());
        let next_far = events.get(i + 1).is_none_or(|n| n.0 - last >= step);
        if marker.is_some() || (next_far && *t - last >= step) || i + 1 == events.len() {
            let rows = screen_rows(parser.screen(), &mut out.rows, &mut index);
            out.frames.push((*t, rows, marker));
            last = *t;
        }
    }
    out
}

fn screen_rows(
    screen: &vt100::Screen,
    rows: &mut Vec<String>,
    index: &mut HashMap<String, usize>,
) -> Vec<usize> {
    let (height, width) = screen.size();
    (0..height.get())
        .map(|row| {
            let html = row_html(screen, row, width.get());
            *index.entry(html.clone()).or_insert_with(|| {
                rows.push(html);
                rows.len() - 1
            })
        })
        .collect()
}

fn row_html(screen: &vt100::Screen, row: u16, width: u16) -> String {
    let mut out = String::new();
    let mut open: Option<String> = None;
    for col in 0..width {
        let Some(cell) = screen.cell(row, col) else {
            continue;
        };
        if cell.is_wide_continuation() {
            continue;
        }
        let style = cell_style(cell);
        if open.as_ref() != Some(&style) {
            if open.is_some() {
                out.push_str("</span>");
            }
            let _ = write!(out, "<span style=\"{style}\">");
            open = Some(style);
        }
        let text = cell.contents();
        out.push_str(&if text.is_empty() {
            " ".to_string()
        } else {
            html(text)
        });
    }
    if open.is_some() {
        out.push_str("</span>");
    }
    out
}

fn cell_style(cell: &vt100::Cell) -> String {
    let (mut fg, mut bg) = (color(cell.fgcolor()), color(cell.bgcolor()));
    if cell.inverse() {
        std::mem::swap(&mut fg, &mut bg);
        fg = fg.or(Some("#1e1e1e".into()));
        bg = bg.or(Some("#d4d4d4".into()));
    }
    let mut style = String::new();
    if let Some(fg) = fg {
        let _ = write!(style, "color:{fg};");
    }
    if let Some(bg) = bg {
        let _ = write!(style, "background:{bg};");
    }
    if cell.bold() {
        style.push_str("font-weight:bold;");
    }
    if cell.italic() {
        style.push_str("font-style:italic;");
    }
    if cell.underline() {
        style.push_str("text-decoration:underline;");
    }
    style
}

/// CSS for a terminal colour; `None` is the page's default.
fn color(c: vt100::Color) -> Option<String> {
    const BASE: [&str; 16] = [
        "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
        "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
    ];
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) if i < 16 => Some(BASE[i as usize].into()),
        vt100::Color::Idx(i) if i < 232 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Some(format!(
                "#{:02x}{:02x}{:02x}",
                level(i / 36),
                level(i / 6 % 6),
                level(i % 6)
            ))
        }
        vt100::Color::Idx(i) => {
            let v = 8 + (i - 232) * 10;
            Some(format!("#{v:02x}{v:02x}{v:02x}"))
        }
        vt100::Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
tr.deny td,tr.rejected td,tr.timeout td{background:#fde8e8}tr.approved td{background:#e8f6e8}\
#screen{background:#1e1e1e;color:#d4d4d4;padding:.5em;font:13px/1.2 ui-monospace,monospace;display:inline-block;min-width:40em}\
#markers li{cursor:pointer;color:#05c}";

const JS: &str = r#"
const cast = JSON.parse(document.getElementById('cast').textContent);
const screen = document.getElementById('screen'), seek = document.getElementById('seek');
const time = document.getElementById('time'), play = document.getElementById('play');
const speed = document.getElementById('speed');
let at = 0, timer = null;
seek.max = Math.max(cast.frames.length - 1, 0);
function show(i) {
  if (!cast.frames.length) { screen.textContent = '(no recording)'; return; }
  at = Math.max(0, Math.min(i, cast.frames.length - 1));
  const f = cast.frames[at];
  screen.innerHTML = f[1].map(r => cast.rows[r]).join('\n');
  seek.value = at; time.textContent = f[0].toFixed(1) + ' s';
}
function step() {
  if (at + 1 >= cast.frames.length) { stop(); return; }
  const wait = Math.min((cast.frames[at + 1][0] - cast.frames[at][0]) * 1000 / speed.value, 2000);
  timer = setTimeout(() => { show(at + 1); step(); }, wait);
}
function stop() { clearTimeout(timer); timer = null; play.textContent = 'play'; }
play.onclick = () => { if (timer) { stop(); } else { play.textContent = 'pause'; if (at + 1 >= cast.frames.length) show(0); step(); } };
seek.oninput = () => { stop(); show(+seek.value); };
const list = document.getElementById('markers');
cast.frames.forEach((f, i) => { if (f[2]) { const li = document.createElement('li');
  li.textContent = f[0].toFixed(1) + ' s  ' + f[2]; li.onclick = () => { stop(); show(i); }; list.appendChild(li); } });
show(cast.frames.length - 1);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_capture_the_screen_and_markers() {
        let cast = "{\"version\":2,\"width\":20,\"height\":3}\n\
                    [0.1, \"o\", \"hello\\r\\n\\u001b[31mred\\u001b[0m\"]\n\
                    [0.5, \"m\", \"approved write on shop\"]\n\
                    [1.0, \"o\", \"\\r\\n<b>&\"]\n";
        let f = frames(cast);
        assert_eq!(f.frames.len(), 3);
        assert_eq!(f.frames[1].2.as_deref(), Some("approved write on shop"));
        let last: Vec<&str> = f.frames[2].1.iter().map(|&r| f.rows[r].as_str()).collect();
        assert!(last[0].contains("hello"));
        assert!(last[1].contains("color:#cd3131") && last[1].contains("red"));
        assert!(last[2].contains("&lt;b&gt;&amp;"), "{}", last[2]);
    }

    #[test]
    fn a_broken_cast_renders_no_frames_and_no_panic() {
        assert!(frames("").frames.is_empty());
        assert!(frames("not json\n[1]\n").frames.is_empty());
        let huge = "{\"version\":2,\"width\":99999,\"height\":0}\n[0.1, \"r\", \"0x99999\"]\n";
        assert_eq!(frames(huge).frames.len(), 1);
    }
}
