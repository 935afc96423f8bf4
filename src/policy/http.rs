//! HTTP classification: by method, as the HTTP semantics define which methods are safe (RFC
//! 9110, section 9.2.1), and the "METHOD /path" text that rules match on.

use super::Class;

/// GET, HEAD and OPTIONS are safe methods (RFC 9110, 9.2.1) and read; POST, PUT, PATCH and
/// DELETE write; any other method (TRACE, CONNECT, WebDAV's PROPFIND, a typo) is unknown.
/// Methods are case-sensitive (RFC 9110, 9.1), so `get` is not GET.
pub fn classify(method: &str) -> Class {
    match method {
        "GET" | "HEAD" | "OPTIONS" => Class::Read,
        "POST" | "PUT" | "PATCH" | "DELETE" => Class::Write,
        _ => Class::Unknown,
    }
}

/// A short human reason for a method's class.
pub fn reason(method: &str) -> String {
    match classify(method) {
        Class::Read => format!("{method} only reads"),
        Class::Write => format!("{method} changes data"),
        _ => format!("{method} is not a method guard knows"),
    }
}

/// The text a rule's `match` regex sees for a request: "METHOD /path" (the path with its query
/// string, as the client sent it).
pub fn rule_text(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

/// Splits "METHOD /path" into its method and path, when the text is one: a leading word of
/// upper-case letters, one space, and a path that starts with `/` (but not `/*`, which opens a
/// SQL comment, as in `SELECT /* hint */ 1`).
pub fn parse_text(text: &str) -> Option<(&str, &str)> {
    let (method, path) = text.trim().split_once(' ')?;
    let is_method = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let is_path =
        path.starts_with('/') && !path.starts_with("/*") && !path.contains(char::is_whitespace);
    (is_method && is_path).then_some((method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_classify_by_safety() {
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(classify(method), Class::Read, "{method}");
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(classify(method), Class::Write, "{method}");
        }
        for method in ["TRACE", "CONNECT", "PROPFIND", "get", "", "GET "] {
            assert_eq!(classify(method), Class::Unknown, "{method:?}");
        }
    }

    #[test]
    fn request_texts_are_told_from_sql() {
        assert_eq!(
            parse_text("DELETE /customers/7?force=1"),
            Some(("DELETE", "/customers/7?force=1"))
        );
        assert_eq!(parse_text("  GET /  "), Some(("GET", "/")));
        assert_eq!(parse_text("SELECT /* hint */ 1"), None);
        assert_eq!(parse_text("DELETE FROM t"), None);
        assert_eq!(parse_text("select /x"), None);
        assert_eq!(parse_text("GET"), None);
        assert_eq!(rule_text("GET", "/a"), "GET /a");
    }
}
