//! The package's man pages (`zedge(1)`, `zedge.toml(5)`) and shell completions (bash, zsh,
//! fish), made from the help pages and the option tables the parser itself uses, and checked
//! in under `board/`: the tests below fail when a checked-in file is not what the binary's
//! help makes of it. After changing the help, `ZEDGE_BLESS=1 cargo test -p zedge cli::docs`
//! writes them again.

use std::fmt::Write as _;

use super::help::{Page, HELP};
use super::{commands, device_longs, TOOLS};
use zedge_core::device::Kind;

use crate::setup::{kind_from_name, CurveOpt, Opt};

/// The column an option's description starts at in the help pages.
const DESC_COL: usize = 29;

/// `s` as roff text: backslashes and dashes escaped, a line that would start with a control
/// character guarded.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// An option's term (`--max-peers N`, `-n, --count N`): the option names bold, the rest as it is.
fn term(t: &str) -> String {
    t.split(' ')
        .map(|w| {
            if w.starts_with('-') {
                format!("\\fB{}\\fR", esc(w))
            } else {
                esc(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A help line's entry, if it starts one: its term (`--max-peers N`, `-n, --count N`,
/// `forwarder`) and the description on the same line. Entries are indented two spaces, or
/// more for a long option without a short one; their descriptions start at [`DESC_COL`],
/// or two spaces after a shorter term.
fn entry_of(line: &str) -> Option<(&str, &str)> {
    let indent = line.len() - line.trim_start().len();
    let option = line.trim_start().starts_with('-');
    if indent >= DESC_COL || !(indent == 2 || option) {
        return None;
    }
    let b = line.as_bytes();
    if b.len() > DESC_COL && b[DESC_COL - 1] == b' ' && b[DESC_COL] != b' ' {
        return Some((line[..DESC_COL].trim(), line[DESC_COL..].trim()));
    }
    let rest = &line[indent..];
    Some(match rest.find("  ") {
        Some(at) => (rest[..at].trim(), rest[at..].trim()),
        None => (rest.trim(), ""),
    })
}

/// The lines of a page after its title and its `Usage:` block.
fn after_usage(text: &str) -> impl Iterator<Item = &str> {
    let mut lines = text.lines();
    if text.contains("\nUsage:") || !text.starts_with("Usage:") {
        // A title first.
        lines.by_ref().take_while(|l| !l.is_empty()).for_each(drop);
    }
    lines.by_ref().take_while(|l| !l.is_empty()).for_each(drop);
    lines
}

/// One help page as roff, after its usage (which the caller writes as the synopsis): a
/// paragraph of column-0 lines that ends with ':' is a subsection's heading, entries
/// ([`entry_of`]) are tagged paragraphs, other indented lines examples, the rest text.
fn body(text: &str) -> String {
    let mut page = Roff::default();
    for line in after_usage(text) {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            page.flush();
            continue;
        }
        if indent >= DESC_COL {
            if let Some((_, desc)) = page.entry.as_mut() {
                desc.push(trimmed.to_owned());
                continue;
            }
        }
        if indent == 0 {
            page.flush_entry();
            page.flush_examples();
            page.text.push(trimmed.to_owned());
        } else if let Some((t, d)) = entry_of(line) {
            page.flush();
            let desc = if d.is_empty() {
                Vec::new()
            } else {
                vec![d.to_owned()]
            };
            page.entry = Some((t.to_owned(), desc));
        } else {
            page.flush_entry();
            page.flush_text();
            page.examples.push(trimmed.to_owned());
        }
    }
    page.flush();
    page.out
}

/// [`body`]'s state: what it has written, and the paragraph, entry or examples it is reading.
#[derive(Default)]
struct Roff {
    out: String,
    text: Vec<String>,
    /// An entry's term and description.
    entry: Option<(String, Vec<String>)>,
    examples: Vec<String>,
}

impl Roff {
    fn flush(&mut self) {
        self.flush_text();
        self.flush_entry();
        self.flush_examples();
    }

    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let joined = std::mem::take(&mut self.text).join(" ");
        match joined.strip_suffix(':').filter(|h| !h.contains(". ")) {
            Some(head) => {
                let _ = writeln!(self.out, ".SS \"{}\"", esc(head).replace('"', "\\(dq"));
            }
            None => {
                let _ = writeln!(self.out, ".PP\n{}", esc(&joined));
            }
        }
    }

    fn flush_entry(&mut self) {
        match self.entry.take() {
            // No description: an example.
            Some((t, desc)) if desc.is_empty() => self.examples.push(t),
            Some((t, desc)) => {
                self.flush_examples();
                let _ = writeln!(self.out, ".TP\n{}\n{}", term(&t), esc(&desc.join(" ")));
            }
            None => {}
        }
    }

    fn flush_examples(&mut self) {
        if self.examples.is_empty() {
            return;
        }
        let lines: Vec<String> = self.examples.drain(..).map(|l| esc(&l)).collect();
        let _ = writeln!(self.out, ".PP\n.RS 4\n.nf\n{}\n.fi\n.RE", lines.join("\n"));
    }
}

/// The `Usage:` lines of a page, without the word.
fn usage(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("Usage:"))
        .take_while(|l| !l.is_empty())
        .map(|l| l.strip_prefix("Usage:").unwrap_or(l).trim())
        .collect()
}

fn header(name: &str, section: u8, title: &str) -> String {
    format!(
        ".\\\" Made by `ZEDGE_BLESS=1 cargo test -p zedge cli::docs` from the binary's help;\n\
         .\\\" do not edit.\n\
         .TH {} {section} \"\" \"zedge {}\" \"{title}\"\n",
        esc(&name.to_uppercase()),
        env!("CARGO_PKG_VERSION"),
    )
}

/// `zedge(1)`: the main page, then each command's.
pub fn zedge_1() -> String {
    let mut out = header("zedge", 1, "User Commands");
    out.push_str(".SH NAME\nzedge \\- a ZeroMQ broker for edge gateways\n.SH SYNOPSIS\n.nf\n");
    for u in usage(HELP) {
        let _ = writeln!(out, "{}", esc(u));
    }
    out.push_str(".fi\n.SH DESCRIPTION\n");
    out.push_str(&body(HELP));
    out.push_str(".SH COMMANDS\n");
    for (name, page) in Page::ALL {
        if page == Page::Main {
            continue;
        }
        let _ = writeln!(out, ".SS \"zedge {}\"\n.nf", esc(name));
        for u in usage(page.text()) {
            let _ = writeln!(out, "{}", esc(u));
        }
        out.push_str(".fi\n");
        out.push_str(&body(page.text()).replace(".SS ", ".PP\n.B "));
    }
    out.push_str(
        ".SH FILES\n\
         .TP\n/etc/zedge/zedge.toml\n\
         The devices the systemd unit runs (zedge run \\-\\-config /etc/zedge/zedge.toml); see \
         \\fBzedge.toml\\fR(5).\n\
         .TP\n/usr/share/doc/zedge/README.md\n\
         How to run, check, reload and open up the service, and the uplink recipes.\n\
         .SH ENVIRONMENT\n\
         .TP\nZEDGE_LOG\n\
         The log level: error, warn, info, debug or trace.\n\
         .SH \"EXIT STATUS\"\n\
         0 once stopped by SIGINT or SIGTERM; 1 if running fails; 2 for a mistake on the \
         command line or in the config file (nothing is started).\n\
         .SH \"SEE ALSO\"\n\\fBzedge.toml\\fR(5), \\fBzmq\\fR(7)\n",
    );
    out
}

/// What `zedge.toml(5)` says before its keys.
const TOML_INTRO: &str = "\
zedge run \\-\\-config FILE runs the devices FILE describes, each on a thread of its own; \
the package's systemd unit runs /etc/zedge/zedge.toml. zedge check\\-config FILE checks it \
without binding anything and prints what each device would run and cost; SIGHUP (systemctl \
reload zedge) reads it again and applies what changed.
.PP
FILE is TOML: process options at the top (before any table), an optional [log] table, an \
optional [metrics] table and one [[device]] table per device. Unknown keys are errors, and so \
are keys for another kind of device. A device's options are the command line's, without the \
dashes (queue_hwm for \\-\\-queue\\-hwm), with the same defaults and ranges. Sizes are bytes, \
or \"64K\", \"64M\", \"1G\"; times are milliseconds, or \"500ms\", \"5s\", \"2m\".
.PP
The *.toml files of the directory conf.d beside the file (/etc/zedge/conf.d for the \
package's) are drop-ins, read after it in the order of their names (other files there, and \
hidden ones, are not read): each may add devices, and its process options, [log] and \
[metrics] replace what was read before it. A device named twice, or an address bound twice, \
is refused with both places. Package upgrades never touch drop-ins. The file and each drop-in \
are regular files of at most 1 MiB.
.PP
Endpoints are ZeroMQ's: \"tcp://*:PORT\", \"tcp://192.168.1.10:PORT\", \"tcp://eth0:PORT\" \
(an interface's address), \"tcp://[::]:PORT\", \"ipc:///run/zedge/NAME.ipc\". A leading \">\" \
connects instead of binding (with reconnect and backoff); \"@\" or nothing binds. Each address \
may be bound by one device only.
";

/// The description of `flag`'s entry in the help page `text` (empty if it has none).
fn flag_desc_in(text: &str, flag: &str) -> String {
    let mut lines = text
        .lines()
        .skip_while(|l| !entry_of(l).is_some_and(|(t, _)| t.split([' ', ',']).any(|w| w == flag)));
    let first = lines.next().and_then(entry_of).map_or("", |(_, d)| d);
    let more = lines.take_while(|l| l.len() - l.trim_start().len() >= DESC_COL);
    std::iter::once(first)
        .chain(more.map(str::trim))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The description of a flag's entry in the main help page.
fn flag_desc(flag: &str) -> String {
    flag_desc_in(HELP, flag)
}

fn key_entry(out: &mut String, key: &str, desc: &str) {
    let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", esc(key), esc(desc));
}

/// The keys of a `[[device]]` table that are not one of [`Opt::DEVICE`], with what they are
/// (the command line's flag for each, whose help is added).
const DEVICE_KEYS: [(&str, &str); 6] = [
    ("name", "The device's name (letters, digits, '-', '_', '.'): in logs, metrics and status. Required."),
    ("kind", "forwarder (XSUB/XPUB), queue (ROUTER/DEALER) or streamer (PULL/PUSH). Required."),
    ("frontend", "Where publishers (forwarder), clients (queue) or producers (streamer) connect: one endpoint, or a list. Required."),
    ("backend", "Where subscribers, workers (queue, streamer) or an upstream broker connect: one endpoint, or a list. Required."),
    ("control", "--control"),
    ("capture", "--capture"),
];

/// `zedge.toml(5)`: the file's shape and every key, with the help of its flag.
pub fn zedge_toml_5() -> String {
    let mut out = header("zedge.toml", 5, "File Formats");
    out.push_str(
        ".SH NAME\nzedge.toml \\- the devices zedge runs\n.SH SYNOPSIS\n/etc/zedge/zedge.toml\n.br\n/etc/zedge/conf.d/*.toml\n",
    );
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(TOML_INTRO);
    out.push_str(".SH \"PROCESS OPTIONS\"\n");
    for opt in Opt::PROCESS {
        key_entry(&mut out, opt.key(), &flag_desc(opt.flag()));
    }
    out.push_str(".SH \"[log]\"\n");
    key_entry(
        &mut out,
        "level",
        "error, warn, info, debug, trace or off [default: warn]; ZEDGE_LOG replaces it, -v raises it.",
    );
    out.push_str(".SH \"[metrics]\"\n");
    key_entry(
        &mut out,
        "listen",
        "Prometheus metrics of every device and of the process at http://LISTEN/metrics \
         [default: 127.0.0.1:9559]. Without the table there are none. No authentication: keep it on loopback.",
    );
    out.push_str(".SH \"[[device]]\"\n");
    for (key, what) in DEVICE_KEYS {
        let desc = if what.starts_with("--") {
            flag_desc(what)
        } else {
            what.to_owned()
        };
        key_entry(&mut out, key, &desc);
    }
    for opt in Opt::DEVICE {
        let desc = flag_desc(opt.flag());
        let desc = match opt {
            Opt::Legacy => format!("true, or false to {desc} [default: true]"),
            Opt::Classic => format!("{desc} [default: false]"),
            _ => desc,
        };
        key_entry(&mut out, opt.key(), &desc);
    }
    for c in CurveOpt::ALL {
        key_entry(&mut out, c.key(), &flag_desc(c.flag()));
    }
    out.push_str(
        ".SH EXAMPLE\n.nf\n\
         memory_max = \"256M\"\n\n\
         [metrics]\n\
         listen = \"127.0.0.1:9559\"\n\n\
         [[device]]\n\
         name = \"telemetry\"\n\
         kind = \"forwarder\"\n\
         frontend = \"tcp://127.0.0.1:5559\"\n\
         backend = [\"tcp://127.0.0.1:5560\", \"ipc:///run/zedge/telemetry.ipc\"]\n\
         .fi\n\
         .SH \"SEE ALSO\"\n\\fBzedge\\fR(1)\n",
    );
    out
}

/// The long options of a device of `kind`, each once.
fn device_options(kind: Kind) -> Vec<&'static str> {
    let mut longs = device_longs();
    let mut seen = std::collections::HashSet::new();
    longs.retain(|l| {
        let applies =
            Opt::from_flag(l.trim_start_matches('-')).is_none_or(|o| o.kinds().contains(&kind));
        *l != "--config" && applies && seen.insert(*l)
    });
    longs
}

/// `run`'s long options.
const RUN_LONGS: &[&str] = &["--config", "--verbose", "--help"];

/// Every long option of `command`.
fn longs_of(command: &str) -> Vec<&'static str> {
    match command {
        "run" => RUN_LONGS.to_vec(),
        "check-config" => vec!["--help"],
        _ => match kind_from_name(command) {
            Some(kind) => device_options(kind),
            None => TOOLS
                .iter()
                .find(|(name, _)| *name == command)
                .map_or_else(Vec::new, |(_, longs)| longs.to_vec()),
        },
    }
}

/// bash: the commands first, then the options of the command given (a command's name after
/// `help`, a file after options that take one).
pub fn bash() -> String {
    let all = commands().join(" ");
    let mut out = format!(
        "# bash completion for zedge. Made by `ZEDGE_BLESS=1 cargo test -p zedge cli::docs`;\n\
         # do not edit.\n_zedge() {{\n    local cur=${{COMP_WORDS[COMP_CWORD]}}\n    \
         if [ \"$COMP_CWORD\" -eq 1 ]; then\n        \
         COMPREPLY=($(compgen -W \"{all} --help --version\" -- \"$cur\"))\n        return\n    fi\n    \
         case ${{COMP_WORDS[COMP_CWORD-1]}} in\n        {FILE_OPTIONS}|-c|check-config|keygen)\n            \
         COMPREPLY=($(compgen -f -- \"$cur\"))\n            return ;;\n    esac\n    \
         case ${{COMP_WORDS[1]}} in\n        \
         help) COMPREPLY=($(compgen -W \"{all}\" -- \"$cur\")) ;;\n"
    );
    for command in commands().into_iter().filter(|c| *c != "help") {
        let _ = writeln!(
            out,
            "        {command}) COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")) ;;",
            longs_of(command).join(" ")
        );
    }
    out.push_str("    esac\n}\ncomplete -F _zedge zedge\n");
    out
}

/// The long options whose argument is a file, as a shell pattern.
const FILE_OPTIONS: &str = "--config|--curve-secret|--curve-allow|--plain-passwords";

/// zsh: the commands, then the options of the command given.
pub fn zsh() -> String {
    let all = commands().join(" ");
    let mut out = format!(
        "#compdef zedge\n# zsh completion for zedge. Made by `ZEDGE_BLESS=1 cargo test -p zedge \
         cli::docs`;\n# do not edit.\nlocal -a commands opts\ncommands=({all})\n\
         if (( CURRENT == 2 )); then\n  compadd -a commands\n  return\nfi\n\
         case $words[CURRENT-1] in\n  {FILE_OPTIONS}|-c) _files; return ;;\nesac\n\
         case $words[2] in\n  help) compadd -a commands; return ;;\n  \
         check-config|keygen) _files; return ;;\n"
    );
    for command in commands()
        .into_iter()
        .filter(|c| !matches!(*c, "help" | "check-config" | "keygen"))
    {
        let _ = writeln!(
            out,
            "  {command}) opts=({}) ;;",
            longs_of(command).join(" ")
        );
    }
    out.push_str("esac\ncompadd -a opts\n");
    out
}

/// fish: the commands, and each command's options with the help's description.
pub fn fish() -> String {
    let mut out = String::from(
        "# fish completion for zedge. Made by `ZEDGE_BLESS=1 cargo test -p zedge cli::docs`;\n\
         # do not edit.\ncomplete -c zedge -f\n",
    );
    let all = commands();
    let _ = writeln!(
        out,
        "complete -c zedge -n 'not __fish_seen_subcommand_from {}' -a '{}'",
        all.join(" "),
        all.join(" ")
    );
    let _ = writeln!(
        out,
        "complete -c zedge -n '__fish_seen_subcommand_from help' -a '{}'",
        all.join(" ")
    );
    for command in all {
        let page = Page::of(command).unwrap_or(Page::Main).text();
        for long in longs_of(command) {
            let name = long.trim_start_matches('-');
            let desc = flag_desc_in(page, long);
            let desc = desc.split(['.', ';', '(', '[']).next().unwrap_or("").trim();
            let _ = write!(
                out,
                "complete -c zedge -n '__fish_seen_subcommand_from {command}' -l {name}"
            );
            if !desc.is_empty() {
                let _ = write!(out, " -d '{}'", desc.replace('\'', "\\'"));
            }
            if matches!(
                name,
                "config" | "curve-secret" | "curve-allow" | "plain-passwords"
            ) {
                out.push_str(" -r -F");
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `board/NAME` holds `made`, or is written with it under `ZEDGE_BLESS=1`.
    fn checked_in(name: &str, made: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../board")
            .join(name);
        if std::env::var_os("ZEDGE_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
            std::fs::write(&path, made).expect("write");
            return;
        }
        let have =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            have == made,
            "board/{name} is not what the help makes of it: ZEDGE_BLESS=1 cargo test -p zedge \
             cli::docs writes it again"
        );
    }

    #[test]
    fn the_man_pages_and_completions_are_the_helps() {
        checked_in("man/zedge.1", &zedge_1());
        checked_in("man/zedge.toml.5", &zedge_toml_5());
        checked_in("completions/zedge.bash", &bash());
        checked_in("completions/_zedge", &zsh());
        checked_in("completions/zedge.fish", &fish());
    }

    #[test]
    fn zedge_1_has_every_option_and_command() {
        let page = zedge_1();
        for long in device_longs() {
            assert!(page.contains(&format!("\\fB{}", esc(long))), "{long}");
        }
        for (name, longs) in TOOLS {
            assert!(page.contains(&format!(".SS \"zedge {}\"", esc(name))) || name == "help");
            for long in longs {
                assert!(
                    page.contains(&format!("\\fB{}", esc(long))),
                    "{name} {long}"
                );
            }
        }
    }

    #[test]
    fn zedge_toml_5_has_every_key_the_parser_takes() {
        let page = zedge_toml_5();
        // The keys serde knows, as its error for an unknown one lists them.
        for (table, text) in [
            ("top", "zz = 1\n"),
            ("log", "[log]\nzz = 1\n"),
            ("metrics", "[metrics]\nzz = 1\n"),
            ("device", "[[device]]\nzz = 1\n"),
        ] {
            let e = crate::config::parse(text, "z.toml")
                .expect_err("refused")
                .to_string();
            let keys = e
                .split_once("expected ")
                .unwrap_or_else(|| panic!("{table}: {e}"))
                .1;
            let keys = keys.strip_prefix("one of ").unwrap_or(keys);
            for key in keys.split(", ") {
                let key = key.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                if key == "device" || key == "log" || key == "metrics" {
                    let heading = if key == "device" {
                        ".SH \"[[device]]\"".to_owned()
                    } else {
                        format!(".SH \"[{key}]\"")
                    };
                    assert!(page.contains(&heading), "{key}");
                    continue;
                }
                assert!(
                    page.contains(&format!(".TP\n\\fB{}\\fR\n", esc(key))),
                    "{table}: {key}"
                );
            }
        }
        for opt in Opt::DEVICE.into_iter().chain(Opt::PROCESS) {
            let entry = page
                .split(&format!(".TP\n\\fB{}\\fR\n", esc(opt.key())))
                .nth(1)
                .expect("an entry");
            let desc = entry.lines().next().unwrap_or_default();
            assert!(desc.len() > 20, "{}: {desc}", opt.key());
        }
    }
}
