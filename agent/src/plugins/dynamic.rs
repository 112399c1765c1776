//! Dynamic plugins: every `*.so` of `plugins.dir`, through the SDK's versioned C ABI
//! ([`mailbeat_sdk::abi`]).
//!
//! This is the one module of the agent with `unsafe` code (loading a library, reading its entry
//! symbol and descriptor, reading the C strings it returns); each block says why it is sound.
//! Everything else talks to a plugin through [`DynamicProbe`], an ordinary [`Probe`].
//!
//! - A library is never unloaded: its [`Library`] is leaked, since unloading code whose
//!   thread-local destructors or runtime threads may still run crashes the process.
//! - The ABI version, the descriptor's first field, is read and checked before any other
//!   function of the plugin is called.
//! - A check runs on a thread of its own (off the async runtime), awaited up to the check's
//!   deadline plus [`CALL_GRACE`]. A call past it is a `plugin_error` result and the thread is
//!   abandoned: a plugin stuck forever keeps that one thread (and what it holds) for the life of
//!   the process. At most [`MAX_STUCK`] calls of one plugin may be stuck at a time; while that
//!   many are, new checks of the plugin are refused at once (a `plugin_error` result) instead
//!   of piling up threads. A plain thread rather than tokio's blocking pool, because the
//!   runtime waits for every blocking task when it shuts down, and a stuck one would keep the
//!   agent from exiting.
//! - A panic inside the plugin is caught by the SDK's boundary and comes back as a
//!   `plugin_error` result; a result that is not a [`CheckResult`] is one too. A plugin built
//!   with `panic = "abort"`, or one that crashes, takes the process with it: a library shares it.

#![allow(unsafe_code)]

use super::{Loaded, PluginInfo};
use async_trait::async_trait;
use mailbeat_sdk::abi::{
    AbiHeader, Configured, Description, EntryFn, PluginDescriptor, ABI_VERSION, ENTRY_SYMBOL,
};
use mailbeat_sdk::{
    Check, CheckRequest, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext, Reason, Target,
};
use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How many calls of one plugin may be stuck past their deadline before new ones are refused.
pub const MAX_STUCK: usize = 4;

/// How long past the check's deadline a call is awaited (the plugin's own runtime cuts its check
/// off at the deadline; this is the time to hand the result back). Less than the executor's
/// grace, so a stuck plugin is named as such.
pub const CALL_GRACE: Duration = Duration::from_millis(250);

/// The longest answer read from a plugin; a longer one is a `plugin_error`.
pub const MAX_ANSWER: usize = 4 << 20;

/// Why a dynamic plugin could not be loaded. Each names the library's file.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    #[error("cannot read plugins.dir {dir}: {error}")]
    ReadDir { dir: String, error: std::io::Error },
    #[error("{path}: not a loadable library: {error}")]
    Open { path: String, error: String },
    #[error(
        "{path}: not a mailbeat plugin: it exports no `mailbeat_plugin` entry symbol ({error})"
    )]
    NoEntry { path: String, error: String },
    #[error(
        "{path}: the plugin's entry symbol returned no descriptor (its probe failed to start)"
    )]
    NullDescriptor { path: String },
    #[error(
        "{path}: plugin ABI version {found}, but this agent speaks ABI version {expected}; rebuild the plugin against a mailbeat-sdk of ABI version {expected}"
    )]
    Abi {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("two dynamic plugins are named {name:?}: {first} and {second}")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
}

/// Loads every `*.so` in `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Loaded>, DynamicError> {
    let entries = std::fs::read_dir(dir).map_err(|error| DynamicError::ReadDir {
        dir: dir.display().to_string(),
        error,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "so"))
        .collect();
    paths.sort();
    let mut out: Vec<Loaded> = Vec::new();
    for path in paths {
        let plugin = load(&path)?;
        if let Some((_, first)) = out.iter().find(|(_, i)| i.name == plugin.name) {
            return Err(DynamicError::Duplicate {
                name: plugin.name.clone(),
                first: first.source.clone().unwrap_or_default(),
                second: plugin.path.clone(),
            });
        }
        let info = PluginInfo {
            name: plugin.name.clone(),
            kind: "dynamic",
            version: plugin.version.clone(),
            abi: Some(ABI_VERSION),
            source: Some(plugin.path.clone()),
        };
        out.push((Arc::new(DynamicProbe(Arc::new(plugin))), info));
    }
    Ok(out)
}

/// One loaded library.
struct Plugin {
    name: String,
    version: String,
    path: String,
    descriptor: &'static PluginDescriptor,
    description: Description,
    /// Calls past their deadline that have not returned.
    stuck: AtomicUsize,
}

/// Opens `path`, checks its ABI version and reads its descriptor and description.
fn load(path: &Path) -> Result<Plugin, DynamicError> {
    let shown = path.display().to_string();
    // SAFETY: loading a library runs its initialisers. The operator put it in plugins.dir to be
    // run by the agent, the same trust as the agent's own binary; nothing else is sound or
    // unsound about it.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| DynamicError::Open {
        path: shown.clone(),
        error: e.to_string(),
    })?;
    // Never unloaded (DESIGN.md §10): the descriptor and every function pointer below point
    // into it, for the life of the process.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the ABI defines `mailbeat_plugin` as an `extern "C" fn() -> *const _` in every
    // version; a library that exports the name with another type breaks the ABI it claims.
    let entry: EntryFn =
        *unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) }.map_err(|e| DynamicError::NoEntry {
            path: shown.clone(),
            error: e.to_string(),
        })?;
    let descriptor = entry();
    if descriptor.is_null() {
        return Err(DynamicError::NullDescriptor { path: shown });
    }
    // SAFETY: non-null, and every ABI version's descriptor starts with the `u32` version
    // (`AbiHeader`), in static memory of the never-unloaded library: reading only that field is
    // sound whatever the version.
    let found = unsafe { (*descriptor.cast::<AbiHeader>()).abi_version };
    if found != ABI_VERSION {
        return Err(DynamicError::Abi {
            path: shown,
            found,
            expected: ABI_VERSION,
        });
    }
    // SAFETY: version 1, so the pointer is to a version-1 `PluginDescriptor`, which the ABI
    // says stays valid and unchanged for the life of the process (the library is never
    // unloaded).
    let descriptor: &'static PluginDescriptor = unsafe { &*descriptor };
    let invalid = |problem: String| DynamicError::Invalid {
        path: shown.clone(),
        problem,
    };
    let name = static_str(descriptor.name).ok_or_else(|| invalid("no plugin name".into()))?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "the plugin name {name:?} is not a usable name"
        )));
    }
    let version = static_str(descriptor.version).unwrap_or_default();
    let mut plugin = Plugin {
        name,
        version,
        path: shown.clone(),
        descriptor,
        description: Description::default(),
        stuck: AtomicUsize::new(0),
    };
    let answer = plugin.answer((descriptor.describe)());
    plugin.description = answer
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        .map_err(|e| invalid(format!("describe gave no description: {e}")))?;
    Ok(plugin)
}

/// A static C string of the descriptor (name, version).
fn static_str(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null; the ABI says `name` and `version` are NUL-terminated strings that live
    // as long as the (never unloaded) library.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().ok().map(str::to_string)
}

impl Plugin {
    /// Takes a string the plugin returned, copies it and gives it back to the plugin's `free`.
    fn answer(&self, ptr: *mut c_char) -> Result<String, String> {
        if ptr.is_null() {
            return Err("the plugin answered nothing (a null pointer)".into());
        }
        // SAFETY: non-null, and by the ABI a NUL-terminated string the plugin allocated and
        // keeps until it is handed to `free`, which happens only below, after the copy.
        let text = unsafe { CStr::from_ptr(ptr) };
        let copy = if text.to_bytes().len() > MAX_ANSWER {
            Err(format!(
                "the plugin's answer is longer than {MAX_ANSWER} bytes"
            ))
        } else {
            text.to_str()
                .map(str::to_string)
                .map_err(|_| "the plugin's answer is not UTF-8".to_string())
        };
        (self.descriptor.free)(ptr);
        copy
    }

    fn configure(&self, target: &Target, options: &serde_json::Value) -> Result<u64, String> {
        let target = c_json(&serde_json::to_string(target).map_err(|e| e.to_string())?);
        let options = c_json(&options.to_string());
        let answer = self.answer((self.descriptor.configure)(
            target.as_ptr(),
            options.as_ptr(),
        ))?;
        match serde_json::from_str::<Configured>(&answer) {
            Ok(Configured::Handle(h)) => Ok(h),
            Ok(Configured::Error(e)) => Err(e),
            Err(e) => Err(format!(
                "plugin {} answered configure with something else than a handle or an error: {e}",
                self.name
            )),
        }
    }

    /// One blocking call of `run`: the result, or why there is none.
    fn run(&self, handle: u64, request: &str, timeout_ms: u64) -> CheckResult {
        let request = c_json(request);
        match self.answer((self.descriptor.run)(handle, request.as_ptr(), timeout_ms)) {
            Ok(answer) => serde_json::from_str(&answer).unwrap_or_else(|e| {
                plugin_error(format!(
                    "plugin {} returned a malformed result ({e}): {}",
                    self.name,
                    excerpt(&answer)
                ))
            }),
            Err(e) => plugin_error(format!("plugin {}: {e}", self.name)),
        }
    }
}

/// JSON as a C string. Serialised JSON has no NUL byte (it would be written `\u0000`).
fn c_json(json: &str) -> CString {
    CString::new(json).unwrap_or_default()
}

fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(120).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    e
}

fn plugin_error(message: String) -> CheckResult {
    CheckResult::unknown(Reason::PluginError, message)
}

/// A dynamic plugin as a probe.
pub struct DynamicProbe(Arc<Plugin>);

impl Probe for DynamicProbe {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn version(&self) -> &str {
        &self.0.version
    }

    fn uses_credentials(&self) -> bool {
        self.0.description.uses_credentials
    }

    fn is_default_for(&self, target: &Target) -> bool {
        let Ok(json) = serde_json::to_string(target) else {
            return false;
        };
        let json = c_json(&json);
        (self.0.descriptor.is_default_for)(json.as_ptr()) == 1
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        self.0.description.metrics.clone()
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let handle = self.0.configure(target, options).map_err(OptionsError)?;
        Ok(Arc::new(DynamicCheck {
            configured: Arc::new(Handle {
                plugin: self.0.clone(),
                handle,
            }),
            options: options.clone(),
        }))
    }
}

/// A handle of the plugin, released when the last user (the check, or a call still running)
/// lets go of it.
struct Handle {
    plugin: Arc<Plugin>,
    handle: u64,
}

impl Drop for Handle {
    fn drop(&mut self) {
        (self.plugin.descriptor.release)(self.handle);
    }
}

struct DynamicCheck {
    configured: Arc<Handle>,
    options: serde_json::Value,
}

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

#[async_trait]
impl Check for DynamicCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let plugin = &self.configured.plugin;
        let stuck = plugin.stuck.load(Ordering::SeqCst);
        if stuck >= MAX_STUCK {
            return plugin_error(format!(
                "plugin {} has {stuck} calls stuck past their timeout; no new call until one returns",
                plugin.name
            ));
        }
        let request = CheckRequest::new(target, &self.options, ctx)
            .to_wire()
            .to_string();
        let timeout_ms = u64::try_from(ctx.remaining().as_millis()).unwrap_or(u64::MAX);
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (configured, call_state) = (self.configured.clone(), state.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("plugin-{}", plugin.name))
            .spawn(move || {
                let c = &configured;
                let result = c.plugin.run(c.handle, &request, timeout_ms);
                let finished =
                    call_state.compare_exchange(RUNNING, DONE, Ordering::SeqCst, Ordering::SeqCst);
                if finished.is_err() {
                    // Given up on: it no longer counts as stuck.
                    c.plugin.stuck.fetch_sub(1, Ordering::SeqCst);
                }
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            return plugin_error(format!(
                "cannot start a thread for plugin {}: {e}",
                plugin.name
            ));
        }
        match tokio::time::timeout(ctx.remaining() + CALL_GRACE, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => plugin_error(format!(
                "the call of plugin {} ended without a result",
                plugin.name
            )),
            Err(_) => {
                // Counted before the state changes, so the thread's decrement cannot come first.
                plugin.stuck.fetch_add(1, Ordering::SeqCst);
                let abandoned =
                    state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst);
                if abandoned.is_err() {
                    plugin.stuck.fetch_sub(1, Ordering::SeqCst);
                }
                plugin_error(format!(
                    "plugin {} did not return within the check's timeout; its call is abandoned",
                    plugin.name
                ))
            }
        }
    }
}
