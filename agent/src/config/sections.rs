//! Cutting a block-style YAML file into parts the parser can read one at a time: its top-level
//! sections, and the entries of a list section such as `targets:`.
//!
//! serde stops at the first error of a document, so three typos in three targets would be
//! reported one run at a time. Each part is given to the parser as a text of the same lines with
//! every line outside the part left empty: the parser's line and column stay those of the file.

use std::ops::Range;

/// A top-level key of the file and the lines (0-based, end exclusive) its section spans,
/// from its own line to the line before the next top-level key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    pub key: String,
    pub lines: Range<usize>,
}

/// The top-level sections of block-style YAML `text`; empty when the file is not a block map
/// (a flow map `{...}`, several documents, or text before the first key), which the caller then
/// reads whole.
pub(super) fn sections(text: &str) -> Vec<Section> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Section> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // Indented lines, comments, and list items written at column 0 under their key
        // (`targets:\n- name: a`) belong to the section above.
        let item = *line == "-" || line.starts_with("- ");
        if line.is_empty() || line.starts_with([' ', '\t', '#']) || (item && !out.is_empty()) {
            continue;
        }
        match top_level_key(line) {
            Some(key) => {
                if let Some(last) = out.last_mut() {
                    last.lines.end = i;
                }
                out.push(Section {
                    key: key.to_string(),
                    lines: i..lines.len(),
                });
            }
            // `---`, `- item`, `{...}` or a scalar at column 0: not a block map we can cut.
            None => return Vec::new(),
        }
    }
    out
}

/// `key` of a line `key:` or `key: value` that starts at column 0.
fn top_level_key(line: &str) -> Option<&str> {
    let (key, rest) = line.split_once(':')?;
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (ok && (rest.is_empty() || rest.starts_with([' ', '\t']))).then_some(key)
}

/// The entries of a block list section (`targets:\n  - name: a\n  ...`): the lines of each `- `
/// item, in order. Empty when the section is not a block list (`targets: []`, a flow list).
pub(super) fn items(text: &str, section: &Section) -> Vec<Range<usize>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut indent = None;
    let mut out: Vec<Range<usize>> = Vec::new();
    let body = lines
        .iter()
        .enumerate()
        .take(section.lines.end)
        .skip(section.lines.start + 1);
    for (i, line) in body {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let here = line.len() - content.len();
        let is_item = content == "-" || content.starts_with("- ");
        match indent {
            None if is_item => indent = Some(here),
            None => return Vec::new(),
            Some(at) if here == at && is_item => {}
            Some(at) if here > at => continue,
            Some(_) => return Vec::new(),
        }
        if let Some(last) = out.last_mut() {
            last.end = i;
        }
        out.push(i..section.lines.end);
    }
    out
}

/// `text` with only the lines in `keep` left, every other line empty, so that a parser reading
/// it reports the file's own line numbers.
pub(super) fn only(text: &str, keep: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if keep.iter().any(|r| r.contains(&i)) {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# top comment\nglobal:\n  timeout: 15s\n\ntargets:\n  # first\n  - name: a\n    probes:\n      - port\n  - name: b\n  -\n    name: c\nwebhooks: []\n";

    #[test]
    fn sections_span_to_the_next_top_level_key() {
        let s = sections(FILE);
        let keys: Vec<_> = s
            .iter()
            .map(|s| (s.key.as_str(), s.lines.clone()))
            .collect();
        assert_eq!(
            keys,
            vec![("global", 1..4), ("targets", 4..12), ("webhooks", 12..13)]
        );
    }

    #[test]
    fn items_are_the_entries_of_a_block_list() {
        let s = sections(FILE);
        assert_eq!(items(FILE, &s[1]), vec![6..9, 9..10, 10..12]);
        assert!(items(FILE, &s[0]).is_empty(), "a map is no list");
        assert!(items(FILE, &s[2]).is_empty(), "a flow list is read whole");
    }

    #[test]
    fn files_that_are_no_block_map_are_not_cut() {
        assert!(sections("{global: {}, targets: []}\n").is_empty());
        assert!(sections("---\nglobal: {}\n").is_empty());
        assert!(sections("- a\n").is_empty());
    }

    #[test]
    fn list_items_at_column_zero_belong_to_their_key() {
        let text = "targets:\n- name: a\n- name: b\nglobal: {}\n";
        let s = sections(text);
        assert_eq!(s[0].lines, 0..3);
        assert_eq!(items(text, &s[0]), vec![1..2, 2..3]);
    }

    #[test]
    fn only_keeps_line_numbers() {
        let t = only("a\nb\nc\n", std::slice::from_ref(&(1..2)));
        assert_eq!(t, "\nb\n\n");
    }
}
