//! What the validator reports.

use std::fmt;

/// Whether a finding makes the event invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The event is not valid OCSF 1.8.0.
    Error,
    /// Suspicious but valid (a caption that disagrees with its id, a deprecated attribute, a
    /// string that does not match its type's regex, ...). With [`Options::strict`] every
    /// warning is reported as an error instead.
    ///
    /// [`Options::strict`]: crate::Options::strict
    Warning,
}

/// One problem in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The reference validator's code for the check, e.g. `attribute_required_missing`,
    /// `attribute_wrong_type`, `type_uid_mismatch` (see the crate README for the list).
    pub code: &'static str,
    /// Where: `user.uid`, `observables[0].name`; empty for the event as a whole.
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Finding {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `PATH: message [code]` on one line, with `warning: ` before the message for warnings and
/// `(event)` for an empty path. Control characters from the event (a key or value holding a
/// line break) are escaped, so one finding is always one line.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(event)"
        } else {
            &self.path
        };
        let severity = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}: {severity}{} [{}]",
            OneLine(path),
            OneLine(&self.message),
            self.code
        )
    }
}

/// Text with its control characters and Unicode line/paragraph separators escaped (`\n`,
/// `\r`, `\t`, `\u{1b}`, `\u{2028}`).
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                    write!(f, "{}", c.escape_unicode())?
                }
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Finding, Severity};

    #[test]
    fn one_finding_is_one_line() {
        let finding = Finding {
            severity: Severity::Warning,
            code: "attribute_unknown",
            path: "user.a\nb".into(),
            message: "Unknown attribute \"user.a\nb\"\r\u{1b}".into(),
        };
        assert_eq!(
            finding.to_string(),
            "user.a\\nb: warning: Unknown attribute \"user.a\\nb\"\\r\\u{1b} [attribute_unknown]"
        );
    }
}
