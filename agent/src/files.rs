//! One wording for a file the agent cannot read, whichever key named it:
//! `cannot read ca_file certs/x.pem: no such file`.

use std::io::{Error, ErrorKind};
use std::path::Path;

/// `cannot read KEY PATH: REASON`, where `key` is the config key (or flag) that named the file.
pub fn cannot_read(key: &str, path: &Path, error: &Error) -> String {
    format!("cannot read {key} {}: {}", path.display(), io_reason(error))
}

/// The reason in a few plain words: `no such file`, `permission denied`, `is a directory`, or the
/// system's words without the `(os error N)` tail.
pub fn io_reason(error: &Error) -> String {
    match error.kind() {
        ErrorKind::NotFound => "no such file".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let text = error.to_string();
            match text.split_once(" (os error") {
                Some((words, _)) => words.to_lowercase(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_read_the_same_everywhere() {
        let e = std::fs::read("/surely/not/here.pem").unwrap_err();
        assert_eq!(
            cannot_read("ca_file", Path::new("certs/x.pem"), &e),
            "cannot read ca_file certs/x.pem: no such file"
        );
        let e = std::fs::read_to_string("/").unwrap_err();
        assert_eq!(io_reason(&e), "is a directory");
    }
}
