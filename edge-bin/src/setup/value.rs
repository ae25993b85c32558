//! Values as operators write them, and the one parser for each form: sizes, counts, durations.
//!
//! The command line gives text and TOML gives typed values; both become a [`Value`], read by
//! the same [`Form::read`], so `64M`, `"64M"` and `67108864` mean the same on either path.

use std::fmt;

/// An option's value as written: the command line's text, or the value TOML parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Str(String),
    Bool(bool),
    Float(f64),
    List,
    Table,
}

impl fmt::Display for Value {
    /// As a message quotes it back: strings quoted, numbers bare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::List => f.write_str("a list"),
            Value::Table => f.write_str("a table"),
        }
    }
}

/// How an option's value is written, and so which parser reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// On or off: `--classic`, `classic = true`.
    Switch,
    Bytes,
    Count,
    /// Read as milliseconds.
    Duration,
    /// A file or directory: a string, not empty.
    Path,
}

impl Form {
    /// What a value of this form looks like, for "expected ..., not ..." messages.
    pub fn expects(self) -> &'static str {
        match self {
            Form::Switch => "a boolean",
            Form::Bytes => "bytes, like 65536, \"64K\" or \"64M\"",
            Form::Count => "a whole number",
            Form::Duration => "a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\"",
            Form::Path => "a path, like \"/var/lib/zedge/NAME\"",
        }
    }

    /// The value as a number (bytes, a count, milliseconds; 1 or 0 for a switch), or `None`
    /// if it is not written in this form.
    pub fn read(self, value: &Value) -> Option<u64> {
        match (self, value) {
            (Form::Switch, Value::Bool(b)) => Some(u64::from(*b)),
            (Form::Switch, _) => None,
            // A path is no number: given (and not empty), it reads as zero.
            (Form::Path, Value::Str(s)) => (!s.is_empty()).then_some(0),
            (Form::Path, _) => None,
            (_, Value::Int(n)) => u64::try_from(*n).ok(),
            (Form::Bytes, Value::Str(s)) => parse_size(s),
            (Form::Count, Value::Str(s)) => parse_count(s),
            (Form::Duration, Value::Str(s)) => parse_duration_ms(s),
            _ => None,
        }
    }
}

/// `123`, `64K`, `64M`, `1G` (binary multiples; `Ki`, `KiB`, `MB`... and a blank before the
/// unit also accepted, as durations take `10 s`).
pub fn parse_size(s: &str) -> Option<u64> {
    let (n, suffix) = leading_number(s)?;
    let shift = match suffix.trim_start().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KI" | "KB" | "KIB" => 10,
        "M" | "MI" | "MB" | "MIB" => 20,
        "G" | "GI" | "GB" | "GIB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// `1024`.
pub fn parse_count(s: &str) -> Option<u64> {
    match leading_number(s)? {
        (n, "") => Some(n),
        _ => None,
    }
}

/// Milliseconds from `500` (a bare number is milliseconds, as it always was), `500ms`, `5s`,
/// `2m`.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let (n, unit) = leading_number(s)?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The digits `s` starts with (after blanks) as a number, and what follows them.
fn leading_number(s: &str) -> Option<(u64, &str)> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = s.split_at(digits);
    Some((num.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("64 M"), Some(64 << 20));
        assert_eq!(parse_size("64Mi"), Some(64 << 20));
        assert_eq!(parse_size("8 KiB"), Some(8 << 10));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("1.5M"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_size("17179869184G"), None);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("1024"), Some(1024));
        assert_eq!(parse_count(" 7 "), Some(7));
        assert_eq!(parse_count("0"), Some(0));
        for bad in ["", "-1", "+1", "1k", "1.0", "many"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("10s"), Some(10_000));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        assert_eq!(parse_duration_ms("10"), Some(10));
        assert_eq!(parse_duration_ms("5 s"), Some(5000));
        assert_eq!(parse_duration_ms("1.5s"), None);
        assert_eq!(parse_duration_ms("1h"), None);
        assert_eq!(parse_duration_ms("s"), None);
        assert_eq!(parse_duration_ms("99999999999999999m"), None);
    }

    #[test]
    fn each_form_reads_numbers_and_its_own_strings() {
        let s = |t: &str| Value::Str(t.into());
        assert_eq!(Form::Bytes.read(&Value::Int(65536)), Some(65536));
        assert_eq!(Form::Bytes.read(&s("64K")), Some(64 << 10));
        assert_eq!(Form::Count.read(&s("12")), Some(12));
        assert_eq!(Form::Count.read(&s("12K")), None);
        assert_eq!(Form::Duration.read(&Value::Int(500)), Some(500));
        assert_eq!(Form::Duration.read(&s("500")), Some(500));
        assert_eq!(Form::Duration.read(&s("5s")), Some(5000));
        assert_eq!(Form::Switch.read(&Value::Bool(true)), Some(1));
        assert_eq!(Form::Switch.read(&s("yes")), None);
        for form in [Form::Bytes, Form::Count, Form::Duration] {
            for v in [
                Value::Int(-1),
                Value::Bool(true),
                Value::Float(1.5),
                Value::List,
                Value::Table,
            ] {
                assert_eq!(form.read(&v), None, "{form:?} {v}");
            }
        }
    }

    #[test]
    fn values_are_quoted_back_as_written() {
        assert_eq!(Value::Str("12X".into()).to_string(), "\"12X\"");
        assert_eq!(Value::Int(-1).to_string(), "-1");
        assert_eq!(Value::Float(2.0).to_string(), "2.0");
        assert_eq!(Value::List.to_string(), "a list");
    }
}
