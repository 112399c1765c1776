//! Exec plugins: programs that follow the Nagios plugin API. (Lands with the exec runner.)

use super::Loaded;
use crate::config::ExecPlugin;

/// The probes of `plugins.exec`.
pub fn probes(exec: &[ExecPlugin]) -> Vec<Loaded> {
    let _ = exec;
    Vec::new()
}
