//! The approval overlay: what it draws, how it makes untrusted text safe to show, and which keys
//! answer it. Pure functions; the relay loop decides when to draw and how to restore the screen.

use crate::approval::Answer;

/// What one overlay shows.
pub struct View<'a> {
    pub id: &'a str,
    pub target: &'a str,
    pub class: &'a str,
    pub rule: &'a str,
    pub text: &'a str,
    pub seconds_left: u64,
    pub waiting: usize,
}

/// Makes statement text safe to draw: control characters, escape sequences and bidirectional
/// overrides become visible text (`^[`, `<U+202E>`), so an agent cannot spoof the overlay by
/// putting terminal codes or reordered text in a statement.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push((c as u8 + b'@') as char);
            }
            '\u{7f}' => out.push_str("^?"),
            '\u{80}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => {
                out.push_str(&format!("<U+{:04X}>", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape codes that draw the overlay box, centred, over whatever is on screen.
pub fn render(view: &View, cols: u16, rows: u16) -> String {
    let width = (cols as usize).saturating_sub(4).clamp(20, 78);
    let inner = width - 4;
    let mut lines = vec![
        "guard: approval needed".to_string(),
        String::new(),
        format!("target  {}", sanitize(view.target)),
        format!("class   {}", sanitize(view.class)),
        format!("rule    {}", sanitize(view.rule)),
        String::new(),
    ];
    let max_text = (rows as usize).saturating_sub(14).clamp(1, 12);
    let wrapped = wrap(&sanitize(view.text), inner);
    let shown = wrapped.len().min(max_text);
    lines.extend(wrapped.iter().take(shown).cloned());
    if wrapped.len() > shown {
        lines.push(format!("… {} more lines", wrapped.len() - shown));
    }
    lines.push(String::new());
    lines.push("[y] allow once   [a] allow this shape for the session   [n/Esc] deny".into());
    let mut footer = format!(
        "request {} · {} s left",
        sanitize(view.id),
        view.seconds_left
    );
    if view.waiting > 0 {
        footer.push_str(&format!(" · {} more waiting", view.waiting));
    }
    lines.push(footer);
    let top = ((rows as usize).saturating_sub(lines.len() + 2) / 2).max(1);
    let left = ((cols as usize).saturating_sub(width) / 2).max(1);
    let mut out = String::from("\x1b[?25l\x1b[0m");
    out.push_str(&format!("\x1b[{top};{left}H┌{}┐", "─".repeat(width - 2)));
    for (i, line) in lines.iter().enumerate() {
        let line: String = line.chars().take(inner).collect();
        let pad = inner - line.chars().count();
        let style = if i == 0 { "\x1b[1;33m" } else { "" };
        out.push_str(&format!(
            "\x1b[{};{left}H│ {style}{line}\x1b[0m{} │",
            top + 1 + i,
            " ".repeat(pad)
        ));
    }
    out.push_str(&format!(
        "\x1b[{};{left}H└{}┘",
        top + 1 + lines.len(),
        "─".repeat(width - 2)
    ));
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(width.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// The answer in a chunk of keyboard input, if any. Plain keys, and the kitty keyboard
/// protocol's `CSI <code> [; mods] u` form, which a child may have switched the terminal to.
/// Anything else (arrows, mouse reports, terminal replies) answers nothing and is dropped.
pub fn answer(bytes: &[u8]) -> Option<Answer> {
    match bytes {
        [b'y' | b'Y'] => return Some(Answer::Once),
        [b'a' | b'A'] => return Some(Answer::Session),
        [b'n' | b'N'] | [0x1b] | [0x03] => return Some(Answer::Deny),
        _ => {}
    }
    let rest = bytes.strip_prefix(b"\x1b[")?.strip_suffix(b"u")?;
    let code = rest.split(|&b| b == b';').next()?;
    match std::str::from_utf8(code).ok()?.parse::<u32>().ok()? {
        121 => Some(Answer::Once),
        97 => Some(Answer::Session),
        110 | 27 => Some(Answer::Deny),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_made_visible() {
        assert_eq!(sanitize("drop\x1b[2J\x1b]0;y\x07"), "drop^[[2J^[]0;y^G");
        assert_eq!(sanitize("a\u{202e}b\u{9b}c"), "a<U+202E>b<U+009B>c");
        assert_eq!(sanitize("select\n1"), "select 1");
    }

    #[test]
    fn rendered_overlay_holds_no_raw_text_controls() {
        let view = View {
            id: "7",
            target: "shop",
            class: "write",
            rule: "default: write asks",
            text: "delete from t where id = 1; \x1b[31m fake [y]",
            seconds_left: 59,
            waiting: 2,
        };
        let drawn = render(&view, 100, 30);
        assert!(drawn.contains("^[[31m fake"));
        assert!(!drawn.contains("\x1b[31m"));
        assert!(drawn.contains("2 more waiting"));
        let tiny = render(&view, 10, 5);
        assert!(tiny.contains("guard: approval"));
    }

    #[test]
    fn keys_answer_and_everything_else_does_not() {
        assert_eq!(answer(b"y"), Some(Answer::Once));
        assert_eq!(answer(b"a"), Some(Answer::Session));
        assert_eq!(answer(b"n"), Some(Answer::Deny));
        assert_eq!(answer(b"\x1b"), Some(Answer::Deny));
        assert_eq!(answer(b"\x1b[121u"), Some(Answer::Once));
        assert_eq!(answer(b"\x1b[27;1u"), Some(Answer::Deny));
        assert_eq!(answer(b"\x1b[A"), None);
        assert_eq!(answer(b"\x1b[12;40R"), None, "a cursor position report");
        assert_eq!(answer(b"yes"), None, "a paste is not a key");
        assert_eq!(answer(b""), None);
    }
}
