//! Probes from outside the binary: dynamic plugins (`plugins.dir`, a versioned C ABI, loaded by
//! `dynamic.rs`, the only module with `unsafe`) and exec plugins (`plugins.exec`, any program
//! that follows the Nagios plugin API, in `exec.rs`). Both become ordinary [`Probe`]s: the
//! scheduler, `/probe`, `check`, metrics and the status page treat them like built-in ones.

pub mod dynamic;
pub mod exec;
pub mod nagios;

use crate::config::PluginsConfig;
use mailbeat_sdk::Probe;
use std::sync::Arc;

/// A loaded plugin: the probe and what `mailbeat plugins` says of it.
pub type Loaded = (Arc<dyn Probe>, PluginInfo);

/// One probe as `mailbeat plugins` and `mailbeat_plugin_info` show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginInfo {
    pub name: String,
    /// `builtin`, `dynamic` or `exec`.
    pub kind: &'static str,
    pub version: String,
    /// The ABI version of a dynamic plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abi: Option<u32>,
    /// Where it came from (a library's path, an exec plugin's program).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Why the plugins could not be loaded: the agent does not start, `validate` fails.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error(
        "plugin {name:?} ({source_path}) has the name of a probe that exists already ({kind})"
    )]
    Shadows {
        name: String,
        source_path: String,
        kind: &'static str,
    },
    #[error(transparent)]
    Dynamic(#[from] dynamic::DynamicError),
}

/// The probes of `section`, after the ones already there (`existing`: built-in and the
/// agent's own); a name may be used once.
pub fn load(
    section: &PluginsConfig,
    existing: &[Arc<dyn Probe>],
) -> Result<Vec<Loaded>, PluginLoadError> {
    let mut out: Vec<Loaded> = Vec::new();
    if let Some(dir) = &section.dir {
        out.extend(dynamic::load_dir(dir)?);
    }
    out.extend(exec::probes(&section.exec));
    let mut seen: Vec<(String, &'static str)> = existing
        .iter()
        .map(|p| (p.name().to_string(), "builtin"))
        .collect();
    for (_, info) in &out {
        if let Some((_, kind)) = seen.iter().find(|(n, _)| *n == info.name) {
            return Err(PluginLoadError::Shadows {
                name: info.name.clone(),
                source_path: info.source.clone().unwrap_or_default(),
                kind,
            });
        }
        seen.push((info.name.clone(), info.kind));
    }
    Ok(out)
}

/// What `existing` (built-in and the agent's own probes) look like in `mailbeat plugins`.
pub fn builtin_infos(existing: &[Arc<dyn Probe>]) -> Vec<PluginInfo> {
    existing
        .iter()
        .map(|p| PluginInfo {
            name: p.name().to_string(),
            kind: "builtin",
            version: p.version().to_string(),
            abi: None,
            source: None,
        })
        .collect()
}
