//! Dynamic plugins: every `*.so` of `plugins.dir`, through the SDK's versioned C ABI.
//! (The loader lands with the ABI; until then a configured directory with libraries in it is an
//! error, not silently ignored.)

use super::Loaded;
use std::path::Path;

/// Why a dynamic plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    #[error("cannot read plugins.dir {dir}: {error}")]
    ReadDir { dir: String, error: std::io::Error },
    #[error("{path}: dynamic plugins are not supported by this build yet")]
    Unsupported { path: String },
}

/// Loads every library in `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<Loaded>, DynamicError> {
    let entries = std::fs::read_dir(dir).map_err(|error| DynamicError::ReadDir {
        dir: dir.display().to_string(),
        error,
    })?;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "so") {
            return Err(DynamicError::Unsupported {
                path: path.display().to_string(),
            });
        }
    }
    Ok(Vec::new())
}
