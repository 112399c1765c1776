//! The key path (`targets[2].account.password_file`) of a line in a YAML file, for parse errors
//! that come with a line number but no path. Best effort on block-style YAML; flow-style
//! (`{a: 1}`) nodes contribute no segment.

/// One line's shape: indentation, the key it defines (if any), and whether it starts a list item.
fn shape(line: &str) -> Option<(usize, Option<String>, bool)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let indent = line.len() - trimmed.len();
    let (item, rest) = match trimmed.strip_prefix('-') {
        Some(r) if r.is_empty() || r.starts_with(' ') => (true, r.trim_start()),
        _ => (false, trimmed),
    };
    let key = rest
        .split_once(':')
        .map(|(k, _)| k.trim().trim_matches(['"', '\'']).to_string())
        .filter(|k| !k.is_empty() && !k.contains(['{', '[', ' ', ',']));
    Some((indent, key, item))
}

/// Position of the list item starting at `lines[at]` among its siblings.
fn item_index(lines: &[&str], at: usize, indent: usize) -> usize {
    let mut index = 0;
    for line in lines[..at].iter().rev() {
        match shape(line) {
            Some((i, _, true)) if i == indent => index += 1,
            Some((i, _, _)) if i < indent => break,
            _ => {}
        }
    }
    index
}

/// The key path of 1-based `line` in `text`, or an empty string.
pub fn key_path_at(text: &str, line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return String::new();
    }
    // Segments from the innermost out: Ok(key) or Err(index).
    let mut segments: Vec<Result<String, usize>> = Vec::new();
    let Some((indent, key, item)) = shape(lines[line - 1]) else {
        return String::new();
    };
    if let Some(k) = key {
        segments.push(Ok(k));
    }
    if item {
        segments.push(Err(item_index(&lines, line - 1, indent)));
    }
    let mut limit = indent;
    for j in (0..line - 1).rev() {
        if limit == 0 {
            break;
        }
        let Some((i, key, item)) = shape(lines[j]) else {
            continue;
        };
        if i >= limit {
            continue;
        }
        if item {
            segments.push(Err(item_index(&lines, j, i)));
        } else if let Some(k) = key {
            segments.push(Ok(k));
        }
        limit = i;
    }
    let mut path = String::new();
    for seg in segments.into_iter().rev() {
        match seg {
            Ok(k) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k);
            }
            Err(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::key_path_at;

    #[test]
    fn paths_of_block_yaml_lines() {
        let yaml = "global:\n  timeout: 5s\n\ntargets:\n  - name: a\n    protocol: imap\n  # comment\n  - name: b\n    account:\n      username: u\n      pasword_file: x\n  -\n    name: c\n";
        assert_eq!(key_path_at(yaml, 2), "global.timeout");
        assert_eq!(key_path_at(yaml, 5), "targets[0].name");
        assert_eq!(key_path_at(yaml, 6), "targets[0].protocol");
        assert_eq!(key_path_at(yaml, 8), "targets[1].name");
        assert_eq!(key_path_at(yaml, 11), "targets[1].account.pasword_file");
        assert_eq!(key_path_at(yaml, 13), "targets[2].name");
        assert_eq!(key_path_at(yaml, 3), "");
        assert_eq!(key_path_at(yaml, 99), "");
        assert_eq!(key_path_at("- {a: 1}\n", 1), "[0]");
    }
}
