//! Where a secret comes from, and reading it at the moment it is needed.
//!
//! Secrets are read at check time, not at load time, so a rotated password file is picked up by
//! the next check without a reload. Error messages name the file or variable, never the value.

use mailbeat_sdk::Secret;
use std::path::PathBuf;

/// A configured secret.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Read from a file (trailing newline trimmed).
    File(PathBuf),
    /// Read from an environment variable (`${NAME}` in the config).
    Env(String),
    /// Written in the config itself (only with `allow_inline_secrets`).
    Inline(Secret),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Env(v) => write!(f, "Env({v})"),
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

/// Why a secret could not be read. Names where it was looked for, never what it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("cannot read secret file {path}: {error}")]
    File { path: String, error: String },
    #[error("secret file {0} is empty")]
    EmptyFile(String),
    #[error("environment variable {0} is not set")]
    EnvUnset(String),
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
}

impl SecretSource {
    /// Parses the value of a `password:`-style key: `${NAME}` is an environment reference, anything
    /// else is an inline secret.
    pub fn from_value(value: &str) -> SecretSource {
        match value
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(name) => SecretSource::Env(name.to_string()),
            None => SecretSource::Inline(Secret::new(value)),
        }
    }

    /// Reads the secret now.
    pub fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                    path: path.display().to_string(),
                    error: crate::files::io_reason(&e),
                })?;
                let value = text.trim_end_matches(['\r', '\n']);
                if value.is_empty() {
                    return Err(SecretError::EmptyFile(path.display().to_string()));
                }
                Ok(Secret::new(value))
            }
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if v.is_empty() => Err(SecretError::EnvEmpty(name.clone())),
                Ok(v) => Ok(Secret::new(v)),
                Err(_) => Err(SecretError::EnvUnset(name.clone())),
            },
            SecretSource::Inline(secret) => Ok(secret.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secrets_are_trimmed_and_errors_do_not_show_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "hunter2\n").unwrap();
        let src = SecretSource::File(path.clone());
        assert_eq!(src.read().unwrap().expose(), "hunter2");
        std::fs::write(&path, "").unwrap();
        let err = src.read().unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let inline = SecretSource::from_value("hunter2");
        assert!(!format!("{inline:?}").contains("hunter2"));
        assert_eq!(
            SecretSource::from_value("${MB_TEST_UNSET_VAR}").read(),
            Err(SecretError::EnvUnset("MB_TEST_UNSET_VAR".into()))
        );
    }
}
