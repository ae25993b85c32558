//! Errors from the TOML parser and serde, placed: the device and key at the error's offset,
//! found in the parsed document, and serde's phrasing turned to lead with what is expected.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::raw::TOO_LARGE;
use crate::setup::Opt;

/// 1-based line of byte offset `at`.
pub fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A parse or serde error, with the device and key it is about, in our words. `key` is the
/// key's text when the caller knows it better than the document does; `written`, the text
/// the error points at, where it has one.
pub fn explain(
    doc: &Spanned<DeTable<'_>>,
    at: usize,
    key: Option<&str>,
    written: Option<&str>,
    msg: &str,
) -> String {
    let (section, found) = locate(doc.get_ref(), at);
    let key = key
        .map(|k| k.trim_matches(|c| c == '"' || c == '\'').to_owned())
        .or(found);
    let mut msg = reword(msg);
    if msg == TOO_LARGE {
        msg = too_large(key.as_deref(), written.unwrap_or("this integer"));
    }
    if let Some(opt) = Opt::PROCESS
        .into_iter()
        .find(|o| section.is_some() && msg.starts_with(&format!("unknown key \"{}\"", o.key())))
    {
        msg = format!(
            "unknown key \"{}\" here: it is the whole process's; write it at the top of the \
             file, before any [table]",
            opt.key()
        );
    }
    if section.as_deref() == Some("[device]") && msg.starts_with("expected a sequence") {
        // `[device]` is one table; devices are a list of them.
        return "[device]: write [[device]] (two brackets): each device is a table of the \
                list of devices"
            .into();
    }
    let mut out = String::new();
    if let Some(s) = section {
        out.push_str(&s);
        out.push_str(": ");
    }
    // "unknown key" names the key itself.
    if let (Some(k), false) = (key, msg.starts_with("unknown key")) {
        out.push_str(&format!("key \"{k}\": "));
    }
    out.push_str(&msg);
    out
}

/// The section (`device "x"`, `[log]`) and key whose text holds byte offset `at`. An offset
/// on no key (a repeated key, a missing one) belongs to the last section header before it.
fn locate(doc: &DeTable<'_>, at: usize) -> (Option<String>, Option<String>) {
    let inside = |span: Range<usize>| span.contains(&at) || span.start == at;
    let mut sections: Vec<(usize, String, &DeTable<'_>)> = Vec::new();
    for (k, v) in doc.iter() {
        let name = k.get_ref().to_string();
        match v.get_ref() {
            DeValue::Array(items) if name == "device" => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let label = match t.get("name").map(|n| n.get_ref()) {
                            Some(DeValue::String(n)) if !n.is_empty() => format!("device {n:?}"),
                            _ => format!("device #{}", i + 1),
                        };
                        sections.push((item.span().start, label, t));
                    }
                }
            }
            DeValue::Table(t) => sections.push((v.span().start, format!("[{name}]"), t)),
            _ => {}
        }
        let section = match v.get_ref() {
            DeValue::Table(_) => true,
            DeValue::Array(items) => {
                !items.is_empty() && items.iter().all(|i| i.get_ref().is_table())
            }
            _ => false,
        };
        if inside(k.span()) || (inside(v.span()) && !section) {
            return (None, Some(name));
        }
    }
    for (_, label, t) in &sections {
        if let Some(key) = key_at(t, at) {
            return (Some(label.clone()), Some(key));
        }
    }
    let last = sections
        .into_iter()
        .filter(|(start, ..)| *start <= at)
        .max_by_key(|(start, ..)| *start);
    (last.map(|(_, label, _)| label), None)
}

fn key_at(t: &DeTable<'_>, at: usize) -> Option<String> {
    t.iter()
        .find(|(k, v)| k.span().contains(&at) || v.span().contains(&at) || k.span().start == at)
        .map(|(k, _)| k.get_ref().to_string())
}

/// An integer over 64 bits, `written`: what the option at `key` expects, where it is one.
fn too_large(key: Option<&str>, written: &str) -> String {
    let opt = Opt::DEVICE
        .into_iter()
        .chain(Opt::PROCESS)
        .find(|o| key == Some(o.key()));
    match opt {
        Some(opt) => format!("expected {}, not {written}", opt.form().expects()),
        None => format!("{written} is an integer too large to read"),
    }
}

/// serde's phrasing, turned around to lead with what is expected.
fn reword(msg: &str) -> String {
    let strip = |s: &str| s.replace('`', "");
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (field, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let field = strip(field);
        let expected = strip(expected);
        let keys = expected
            .strip_prefix("one of ")
            .unwrap_or(&expected)
            .split(", ");
        let meant = crate::suggest::did_you_mean(&field, keys);
        return if expected.is_empty() {
            format!("unknown key \"{field}\"")
        } else {
            format!("unknown key \"{field}\"{meant}; expected {expected}")
        };
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        return format!("missing key \"{}\"", strip(field));
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                let found = found_value(found);
                // A word near one of the words accepted: `kind = "forwader"`.
                let meant = match (expected.strip_prefix("one of "), found.strip_prefix('"')) {
                    (Some(words), Some(word)) => crate::suggest::did_you_mean(
                        word.strip_suffix('"').unwrap_or(word),
                        words.split(", "),
                    ),
                    _ => String::new(),
                };
                return format!("expected {expected}, not {found}{meant}");
            }
        }
    }
    if msg == "duplicate key" {
        return "this key is given twice; keep one".into();
    }
    msg.to_owned()
}

/// `string "x"` -> `"x"`, ``integer `3` `` -> `3`, ``integer `3` as i128`` -> `3`, `map` -> `a
/// table`, `sequence` -> `a list`.
fn found_value(found: &str) -> String {
    if let Some(s) = found.strip_prefix("string ") {
        return s.to_owned();
    }
    if let Some((_, v)) = found.split_once(" `") {
        return v.split('`').next().unwrap_or(v).to_owned();
    }
    match found {
        "map" => "a table".into(),
        "sequence" => "a list".into(),
        other => other.to_owned(),
    }
}
