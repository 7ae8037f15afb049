//! The schema's type regexes are written for Python's `re`, which the reference validator
//! uses with `search`. Rust's `regex` reads them the same way except for one thing: outside
//! a character class, Python's `$` (without MULTILINE) matches at the end *or just before a
//! final newline*, Rust's only at the end. This rewrites `$` to `(?:\n?\z)`.

/// The pattern with every `$` outside a character class made Python's.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal, not the end of the class.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '[' if in_class => out.push_str("\\["),
            '&' | '~' | '-' if in_class && chars.peek() == Some(&c) => {
                // Rust reads `&&`, `~~` and `--` in a class as set operations; Python as
                // two literal characters.
                out.push('\\');
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?:\n?\\z)"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::translate;

    fn search(pattern: &str, text: &str) -> bool {
        Regex::new(&translate(pattern)).unwrap().is_match(text)
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_python() {
        assert!(search("^ab$", "ab"));
        assert!(search("^ab$", "ab\n"));
        assert!(!search("^ab$", "ab\n\n"));
        assert!(!search("^ab$", "abc"));
        assert!(search("^a[$]b$", "a$b"));
        assert!(search(r"^a\$$", "a$"));
    }

    #[test]
    fn classes_keep_python_meaning() {
        assert!(search("^[]a]+$", "]a]"));
        assert!(search("^[a&&b]+$", "&&"));
        assert!(search("^[a-zA-Z0-9-.]+$", "a-.b"));
        assert!(search("^[+-/]$", ","));
    }
}
