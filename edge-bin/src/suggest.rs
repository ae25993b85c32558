//! "Did you mean": the known word nearest a mistyped one (an option, a subcommand, a config
//! key), if it is near enough to be what was meant.

/// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
/// swaps of two neighbours), if within a third of its length (at least 1, so `--fronted`
/// finds `--frontend` and `x` finds nothing). Ties go to the first candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|&(d, c)| d <= limit && d < c.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `; did you mean X?` for `word` among `candidates`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean {c}?"))
        .unwrap_or_default()
}

/// Optimal string alignment distance between `a` and `b`, by characters.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back (for swaps), the last, and this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("frontend", "fronted"), 1);
        assert_eq!(distance("forwarder", "forwader"), 1);
        assert_eq!(distance("queue", "qeueu"), 2);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn near_words_are_suggested_and_far_ones_not() {
        let words = ["--frontend", "--backend", "--max-peers", "--max-msg-size"];
        assert_eq!(closest("--fronted", words), Some("--frontend"));
        assert_eq!(closest("--bakcend", words), Some("--backend"));
        assert_eq!(closest("--max-peer", words), Some("--max-peers"));
        assert_eq!(closest("--verbose", words), None);
        assert_eq!(closest("x", ["y", "xy"]), Some("xy"));
        assert_eq!(
            closest("a", ["b"]),
            None,
            "a word all changed is no suggestion"
        );
        assert_eq!(
            did_you_mean("streamr", ["streamer"]),
            "; did you mean streamer?"
        );
        assert_eq!(did_you_mean("router", ["streamer"]), "");
    }
}
