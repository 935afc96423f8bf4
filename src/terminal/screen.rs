//! The shadow screen: a vt100 model of what the child has drawn, kept up to date from every byte
//! of its output, so guard can freeze the real terminal, draw its own overlay, and put the
//! child's screen back exactly.
//!
//! Two cases (as tmux and claude-chill do it): a child on the main screen is left alone while
//! guard draws on the terminal's alternate screen, and leaving that alternate screen brings the
//! main screen and cursor back; the output held meanwhile is then replayed in order. A child
//! already on the alternate screen is drawn over, then repainted whole from the model.

use std::num::NonZeroU16;

/// Output held while frozen; past this, the model alone restores the screen.
const HOLD_LIMIT: usize = 4 * 1024 * 1024;
const SYNC_BEGIN: &str = "\x1b[?2026h";
const SYNC_END: &str = "\x1b[?2026l";

pub struct Shadow {
    parser: vt100::Parser,
    frozen: Option<Frozen>,
}

struct Frozen {
    /// The child was on the alternate screen when the overlay came up.
    child_on_alt: bool,
    held: Vec<u8>,
    overflow: bool,
}

fn nz(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

impl Shadow {
    pub fn new(cols: u16, rows: u16) -> Self {
        Shadow {
            parser: vt100::Parser::new(nz(rows), nz(cols), 0),
            frozen: None,
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Takes child output into the model. Returns whether it may go to the real terminal now.
    pub fn output(&mut self, bytes: &[u8]) -> bool {
        self.parser.process(bytes);
        let Some(frozen) = self.frozen.as_mut() else {
            return true;
        };
        if !frozen.overflow {
            if frozen.held.len() + bytes.len() > HOLD_LIMIT {
                frozen.overflow = true;
                frozen.held = Vec::new();
            } else {
                frozen.held.extend_from_slice(bytes);
            }
        }
        false
    }

    /// The child's size changed (applied when the overlay is gone, so the child redraws once).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.parser.set_size(nz(rows), nz(cols));
    }

    /// Stops showing child output; returns what to write before the first overlay is drawn.
    pub fn freeze(&mut self) -> String {
        if self.frozen.is_some() {
            return String::new();
        }
        let child_on_alt = self.parser.screen().alternate_screen();
        self.frozen = Some(Frozen {
            child_on_alt,
            held: Vec::new(),
            overflow: false,
        });
        if child_on_alt {
            String::new()
        } else {
            // Entering the alternate screen saves the main screen and cursor for us.
            "\x1b[?1049h".into()
        }
    }

    /// What to write to show `overlay` (drawn by `overlay::render`) over a clean background.
    pub fn draw(&self, overlay: &str) -> String {
        match &self.frozen {
            Some(f) if f.child_on_alt => {
                let screen = self.parser.screen();
                format!(
                    "{SYNC_BEGIN}{}{overlay}{SYNC_END}",
                    screen.contents_formatted()
                )
            }
            _ => format!("{SYNC_BEGIN}\x1b[0m\x1b[H\x1b[2J{overlay}{SYNC_END}"),
        }
    }

    /// Removes the overlay and returns the bytes that put the child's screen back exactly.
    pub fn thaw(&mut self) -> Vec<u8> {
        let Some(frozen) = self.frozen.take() else {
            return Vec::new();
        };
        let screen = self.parser.screen();
        let mut out = Vec::new();
        if !frozen.child_on_alt && !frozen.overflow {
            out.extend_from_slice(b"\x1b[?1049l");
            out.extend_from_slice(&frozen.held);
            // The held bytes may not touch the cursor's visibility, which the overlay hid.
            out.extend_from_slice(visibility(screen).as_bytes());
            return out;
        }
        // Repaint whole from the model, on whichever screen the child is on now.
        out.extend_from_slice(SYNC_BEGIN.as_bytes());
        // The real terminal is on an alternate screen now (guard's, or the child's own).
        if !screen.alternate_screen() {
            out.extend_from_slice(b"\x1b[?1049l");
        }
        out.extend_from_slice(screen.state_formatted().as_bytes());
        out.extend_from_slice(screen.cursor_state_formatted().as_bytes());
        out.extend_from_slice(SYNC_END.as_bytes());
        out
    }
}

fn visibility(screen: &vt100::Screen) -> &'static str {
    if screen.hide_cursor() {
        "\x1b[?25l"
    } else {
        "\x1b[?25h"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the human's terminal: a second model fed with what guard writes.
    struct RealTerminal(vt100::Parser);

    impl RealTerminal {
        fn new() -> Self {
            RealTerminal(vt100::Parser::new(nz(10), nz(40), 0))
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.process(bytes);
        }
        fn screen(&self) -> (String, (u16, u16), bool) {
            let s = self.0.screen();
            (s.contents(), s.cursor_position(), s.alternate_screen())
        }
    }

    fn child(shadow: &mut Shadow, real: &mut RealTerminal, bytes: &[u8]) {
        if shadow.output(bytes) {
            real.write(bytes);
        }
    }

    fn model(shadow: &Shadow) -> (String, (u16, u16), bool) {
        let s = shadow.parser.screen();
        (s.contents(), s.cursor_position(), s.alternate_screen())
    }

    #[test]
    fn a_main_screen_child_comes_back_exactly_with_what_it_printed_meanwhile() {
        let (mut shadow, mut real) = (Shadow::new(40, 10), RealTerminal::new());
        child(
            &mut shadow,
            &mut real,
            b"psql (15)\r\nshop=> select 1;\r\n 1\r\nshop=> ",
        );
        real.write(shadow.freeze().as_bytes());
        real.write(shadow.draw("\x1b[3;3HOVERLAY y/n").as_bytes());
        assert!(real.screen().0.contains("OVERLAY"));
        child(&mut shadow, &mut real, b"\r\nNOTICE: meanwhile\r\nshop=> ");
        assert!(!real.screen().0.contains("meanwhile"), "frozen");
        real.write(&shadow.thaw());
        assert_eq!(real.screen(), model(&shadow));
        assert!(!real.screen().0.contains("OVERLAY"));
        assert!(real.screen().0.contains("meanwhile"));
    }

    #[test]
    fn an_alternate_screen_child_is_repainted_from_the_model() {
        let (mut shadow, mut real) = (Shadow::new(40, 10), RealTerminal::new());
        child(
            &mut shadow,
            &mut real,
            b"shell$ vim\r\n\x1b[?1049h\x1b[H\x1b[2J~\r\n~\r\n\x1b[10;1H\"f.txt\" 2L\x1b[1;1H",
        );
        real.write(shadow.freeze().as_bytes());
        real.write(shadow.draw("\x1b[4;4HOVERLAY").as_bytes());
        child(&mut shadow, &mut real, b"\x1b[2;1Hinserted text");
        real.write(&shadow.thaw());
        assert_eq!(real.screen(), model(&shadow));
        assert!(real.screen().2, "still on the alternate screen");
        // Leaving vim brings back the shell's screen from before.
        let leave = b"\x1b[?1049l";
        child(&mut shadow, &mut real, leave);
        assert_eq!(real.screen(), model(&shadow));
    }

    #[test]
    fn a_flood_while_frozen_is_restored_from_the_model() {
        let (mut shadow, mut real) = (Shadow::new(40, 10), RealTerminal::new());
        child(&mut shadow, &mut real, b"start\r\n");
        real.write(shadow.freeze().as_bytes());
        let line = b"0123456789012345678901234567890123456789\r\n";
        for _ in 0..(HOLD_LIMIT / line.len() + 10) {
            child(&mut shadow, &mut real, line);
        }
        child(&mut shadow, &mut real, b"end");
        real.write(&shadow.thaw());
        assert_eq!(real.screen(), model(&shadow));
    }

    #[test]
    fn a_child_that_leaves_the_alternate_screen_while_frozen_is_restored() {
        let (mut shadow, mut real) = (Shadow::new(40, 10), RealTerminal::new());
        child(&mut shadow, &mut real, b"before\r\n\x1b[?1049hFULLSCREEN");
        real.write(shadow.freeze().as_bytes());
        real.write(shadow.draw("OVERLAY").as_bytes());
        child(&mut shadow, &mut real, b"\x1b[?1049lafter");
        real.write(&shadow.thaw());
        assert_eq!(real.screen().0, model(&shadow).0);
        assert!(!real.screen().2);
    }
}
