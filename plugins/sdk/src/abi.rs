//! The dynamic-plugin C ABI, version [`ABI_VERSION`], and the [`export_plugin!`](crate::export_plugin)
//! macro that implements it for any [`Probe`].
//!
//! # Writing a dynamic plugin
//!
//! A plugin is a `cdylib` crate with an ordinary [`Probe`] (the same trait, `Target` and
//! `CheckResult` as the built-in probes) and one line that exports it:
//!
//! ```ignore
//! // Cargo.toml: [lib] crate-type = ["cdylib"]; [dependencies] mailbeat-sdk, async-trait, serde_json
//! use mailbeat_sdk::{async_trait, Check, CheckResult, OptionsError, Probe, ProbeContext, Target};
//! use std::sync::Arc;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Probe for Hello {
//!     fn name(&self) -> &str { "hello" }
//!     fn configure(&self, _t: &Target, _o: &serde_json::Value)
//!         -> Result<Arc<dyn Check>, OptionsError> { Ok(Arc::new(HelloCheck)) }
//! }
//!
//! struct HelloCheck;
//!
//! #[async_trait]
//! impl Check for HelloCheck {
//!     async fn run(&self, target: &Target, _ctx: &ProbeContext) -> CheckResult {
//!         CheckResult::ok(format!("hello, {}", target.host))
//!     }
//! }
//!
//! mailbeat_sdk::export_plugin!(Hello::default);
//! ```
//!
//! Drop the `.so` into `plugins.dir` and name it in a target's `probes: [{plugin: hello}]`.
//! `plugins/example-hello` is the complete crate (the README shows it in full).
//!
//! # The ABI (what the macro generates; for a plugin written in another language)
//!
//! The library exports one symbol, [`ENTRY_SYMBOL`] (`mailbeat_plugin`), an
//! `extern "C" fn() -> *const PluginDescriptor`. Its name does not change between ABI versions,
//! so the agent can always read the version and refuse a library of another one by name, rather
//! than reporting a missing symbol. The descriptor is `#[repr(C)]`; its **first field is the ABI
//! version** (`u32`): the agent reads that field and nothing else until it matches, and calls
//! no other plugin function before. The entry function must be cheap and must not fail; it is
//! called once, and the descriptor must stay valid for the life of the process (the agent never
//! unloads a library).
//!
//! Every string crossing the boundary is a NUL-terminated UTF-8 C string. Strings the plugin
//! returns from `describe`, `configure` and `run` are the plugin's, and the agent hands each
//! back to `free` exactly once; `name` and `version` are static (never freed). Strings the agent
//! passes are the agent's, valid for the call only. All payloads are JSON:
//!
//! | function | in | out |
//! |---|---|---|
//! | `describe()` | | [`Description`]: `uses_credentials`, `metrics` ([`crate::MetricDesc`]) |
//! | `is_default_for(target)` | [`crate::Target`] JSON | 1 yes, 0 no (anything else: no) |
//! | `configure(target, options)` | `Target`, the probe's options | `{"handle": N}` or `{"error": "…"}` ([`Configured`]) |
//! | `run(handle, request, timeout_ms)` | a handle from `configure`, [`crate::CheckRequest::to_wire`] | a [`crate::CheckResult`] |
//! | `release(handle)` | a handle no longer used | |
//! | `free(ptr)` | a string the plugin returned | |
//!
//! `run` is synchronous and blocking: the agent calls it on a thread of its blocking pool, and
//! `timeout_ms` is the time left until the check's deadline. No function may unwind into the
//! agent: the macro catches a panic and answers with an error (`run`: a `plugin_error` result).
//!
//! # Runtime
//!
//! The macro runs the async [`crate::Check::run`] on a tokio runtime the plugin owns (built on
//! first use, two worker threads), cut off at the deadline. The plugin's tokio is its own copy,
//! separate from the agent's. The context a check gets has the request's credentials, locale,
//! EHLO name and deadline, and as trust anchors the webpki roots plus the target's `ca_file`
//! (not the operating system's store: the agent's `system_roots` does not reach a plugin).

// The one module of the SDK with unsafe code: reading the C strings the agent passes, and
// handing back and freeing the ones the plugin returns. Each block says why it is sound.
#![allow(unsafe_code)]

use crate::{CheckRequest, CheckResult, MetricDesc, Probe, ProbeContext, Reason, Target};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The ABI version this SDK speaks. A change to [`PluginDescriptor`] or to the meaning of its
/// functions makes a new version; the JSON shapes evolve compatibly within one.
pub const ABI_VERSION: u32 = 1;

/// The name of the entry symbol, NUL-terminated (for `libloading`).
pub const ENTRY_SYMBOL: &[u8] = b"mailbeat_plugin\0";

/// The entry symbol's type.
pub type EntryFn = extern "C" fn() -> *const PluginDescriptor;

/// The first field of every descriptor, of any ABI version: what the agent reads first.
#[repr(C)]
pub struct AbiHeader {
    pub abi_version: u32,
}

/// What the entry symbol returns (ABI version 1).
#[repr(C)]
pub struct PluginDescriptor {
    /// [`ABI_VERSION`]. First, so that any version's descriptor starts with it.
    pub abi_version: u32,
    /// The probe's name, as written in `probes: [{plugin: NAME}]`. Static.
    pub name: *const c_char,
    /// The plugin's version, shown by `mailbeat plugins`. Static.
    pub version: *const c_char,
    pub describe: extern "C" fn() -> *mut c_char,
    pub is_default_for: extern "C" fn(target_json: *const c_char) -> i32,
    pub configure:
        extern "C" fn(target_json: *const c_char, options_json: *const c_char) -> *mut c_char,
    pub run:
        extern "C" fn(handle: u64, request_json: *const c_char, timeout_ms: u64) -> *mut c_char,
    pub release: extern "C" fn(handle: u64),
    pub free: extern "C" fn(ptr: *mut c_char),
}

// SAFETY: the descriptor is immutable once built; `name` and `version` point to leaked, never
// written C strings, and the function pointers are plain code addresses. Sharing it between
// threads shares only reads of 'static data.
unsafe impl Sync for PluginDescriptor {}
// SAFETY: as for `Sync`: nothing in it is tied to the thread that built it.
unsafe impl Send for PluginDescriptor {}

/// What `describe` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    #[serde(default)]
    pub uses_credentials: bool,
    #[serde(default)]
    pub metrics: Vec<MetricDesc>,
}

/// What `configure` answers: a handle for `run`, or why the options were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Configured {
    Handle(u64),
    Error(String),
}

/// Exports a [`Probe`] as a dynamic plugin: generates the entry symbol of the C ABI (see
/// [`crate::abi`]). Takes an expression that builds the probe (called once, on load), e.g.
/// `export_plugin!(MyProbe::default)` or `export_plugin!(|| MyProbe::new(42))`. Use it once per
/// `cdylib`. The generated symbol needs `#[no_mangle]`, which the `unsafe_code` lint counts, so
/// the macro allows it on that one item (a crate that `forbid`s unsafe code cannot use it).
#[macro_export]
macro_rules! export_plugin {
    ($constructor:expr) => {
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn mailbeat_plugin() -> *const $crate::abi::PluginDescriptor {
            $crate::abi::entry(|| {
                ::std::boxed::Box::new(($constructor)()) as ::std::boxed::Box<dyn $crate::Probe>
            })
        }
    };
}

/// The plugin's state: its probe, configured checks and runtime. One per library (each
/// `cdylib` has its own copy of the SDK, so of this static).
struct Plugin {
    probe: Box<dyn Probe>,
    descriptor: PluginDescriptor,
    checks: Mutex<HashMap<u64, Arc<dyn crate::Check>>>,
    next: AtomicU64,
}

static PLUGIN: OnceLock<Option<Plugin>> = OnceLock::new();

/// The body of the generated entry symbol: builds the probe once and returns the descriptor;
/// null when building the probe panicked (the agent refuses the library).
#[doc(hidden)]
pub fn entry(make: fn() -> Box<dyn Probe>) -> *const PluginDescriptor {
    let plugin = PLUGIN.get_or_init(|| {
        let probe = catch_unwind(make).ok()?;
        let name = leak_c_string(probe.name());
        let version = leak_c_string(probe.version());
        Some(Plugin {
            probe,
            descriptor: PluginDescriptor {
                abi_version: ABI_VERSION,
                name,
                version,
                describe: ffi_describe,
                is_default_for: ffi_is_default_for,
                configure: ffi_configure,
                run: ffi_run,
                release: ffi_release,
                free: ffi_free,
            },
            checks: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    });
    match plugin {
        Some(p) => &p.descriptor,
        None => std::ptr::null(),
    }
}

fn leak_c_string(s: &str) -> *const c_char {
    let c = CString::new(s.replace('\0', "")).unwrap_or_default();
    c.into_raw()
}

fn plugin() -> Option<&'static Plugin> {
    PLUGIN.get().and_then(Option::as_ref)
}

/// A string for the agent; `free` gives it back.
fn give(s: String) -> *mut c_char {
    CString::new(s.replace('\0', "\\u0000"))
        .unwrap_or_default()
        .into_raw()
}

/// A string the agent passed, as `&str`; `None` for null or not UTF-8.
///
/// The caller passes a pointer from the agent, which promises a NUL-terminated string valid for
/// the call (the ABI's contract); the returned borrow does not outlive the call.
fn take<'a>(ptr: *const c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and by the ABI contract a NUL-terminated string the agent keeps alive
    // and unchanged for the duration of this call; the borrow is used only within it.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().ok()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

extern "C" fn ffi_describe() -> *mut c_char {
    let answer = catch_unwind(AssertUnwindSafe(|| {
        plugin().map(|p| Description {
            uses_credentials: p.probe.uses_credentials(),
            metrics: p.probe.metrics(),
        })
    }));
    match answer {
        Ok(Some(d)) => give(serde_json::to_string(&d).unwrap_or_default()),
        _ => std::ptr::null_mut(),
    }
}

extern "C" fn ffi_is_default_for(target_json: *const c_char) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        let p = plugin()?;
        let target: Target = serde_json::from_str(take(target_json)?).ok()?;
        Some(i32::from(p.probe.is_default_for(&target)))
    }))
    .ok()
    .flatten()
    .unwrap_or(0)
}

extern "C" fn ffi_configure(
    target_json: *const c_char,
    options_json: *const c_char,
) -> *mut c_char {
    let answer = catch_unwind(AssertUnwindSafe(|| -> Result<u64, String> {
        let p = plugin().ok_or("the plugin was not initialised")?;
        let target: Target = serde_json::from_str(take(target_json).ok_or("no target")?)
            .map_err(|e| format!("the agent sent a target this plugin cannot read: {e}"))?;
        let options: serde_json::Value = serde_json::from_str(take(options_json).unwrap_or("null"))
            .map_err(|e| e.to_string())?;
        let check = p.probe.configure(&target, &options).map_err(|e| e.0)?;
        let handle = p.next.fetch_add(1, Ordering::Relaxed);
        p.checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle, check);
        Ok(handle)
    }));
    let answer = match answer {
        Ok(Ok(h)) => Configured::Handle(h),
        Ok(Err(e)) => Configured::Error(e),
        Err(p) => Configured::Error(format!("the plugin panicked: {}", panic_message(&*p))),
    };
    give(serde_json::to_string(&answer).unwrap_or_default())
}

/// The plugin's own runtime for the async checks.
fn runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mailbeat-plugin")
        .enable_all()
        .build()?;
    // A race builds two; the loser is dropped here, outside any runtime.
    Ok(RT.get_or_init(|| rt))
}

fn plugin_error(message: String) -> CheckResult {
    CheckResult::unknown(Reason::PluginError, message)
}

fn run_inner(handle: u64, request_json: *const c_char, timeout_ms: u64) -> CheckResult {
    let Some(p) = plugin() else {
        return plugin_error("the plugin was not initialised".into());
    };
    let check = p
        .checks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&handle)
        .cloned();
    let Some(check) = check else {
        return plugin_error(format!("no configured check with handle {handle}"));
    };
    let request: CheckRequest = match take(request_json).map(serde_json::from_str) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return plugin_error(format!("unreadable request: {e}")),
        None => return plugin_error("no request".into()),
    };
    if request.version != crate::wire::REQUEST_VERSION {
        return plugin_error(format!(
            "request version {} is not the {} this plugin knows",
            request.version,
            crate::wire::REQUEST_VERSION
        ));
    }
    let timeout = Duration::from_millis(timeout_ms);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return plugin_error(format!("cannot start the plugin's runtime: {e}")),
    };
    let ctx = ProbeContext {
        deadline: Instant::now() + timeout,
        roots: roots(&request.target),
        credentials: request.credentials.clone(),
        ehlo_name: request.ehlo_name.clone(),
        locale: request.locale,
        // The wire format carries one target; a plugin has no companion.
        via: None,
    };
    let target = request.target;
    rt.block_on(async {
        match tokio::time::timeout(timeout, check.run(&target, &ctx)).await {
            Ok(result) => result,
            Err(_) => CheckResult::critical(
                Reason::ServerTimeout,
                format!("the check did not finish within {timeout_ms} ms"),
            ),
        }
    })
}

/// Trust anchors for a check in the plugin: webpki roots and the target's `ca_file`.
fn roots(target: &Target) -> Arc<rustls::RootCertStore> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut store = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &target.ca_file {
        if let Ok(certs) = CertificateDer::pem_file_iter(path) {
            for cert in certs.flatten() {
                let _ = store.add(cert);
            }
        }
    }
    Arc::new(store)
}

extern "C" fn ffi_run(handle: u64, request_json: *const c_char, timeout_ms: u64) -> *mut c_char {
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_inner(handle, request_json, timeout_ms)
    }))
    .unwrap_or_else(|p| plugin_error(format!("the plugin panicked: {}", panic_message(&*p))));
    let json = serde_json::to_string(&result).unwrap_or_else(|e| {
        serde_json::to_string(&plugin_error(format!("cannot write the result: {e}")))
            .unwrap_or_default()
    });
    give(json)
}

extern "C" fn ffi_release(handle: u64) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if let Some(p) = plugin() {
            let check = p
                .checks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&handle);
            drop(check);
        }
    }));
}

extern "C" fn ffi_free(ptr: *mut c_char) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: by the ABI contract `ptr` is a string this plugin returned from `give`
    // (`CString::into_raw`), handed back once; retaking it frees it with the same allocator.
    drop(unsafe { CString::from_raw(ptr) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_first_field() {
        assert_eq!(std::mem::offset_of!(PluginDescriptor, abi_version), 0);
        assert_eq!(std::mem::offset_of!(AbiHeader, abi_version), 0);
    }

    #[test]
    fn configure_answers_round_trip() {
        let h = serde_json::to_string(&Configured::Handle(3)).unwrap();
        assert_eq!(h, r#"{"handle":3}"#);
        let e: Configured = serde_json::from_str(r#"{"error":"bad"}"#).unwrap();
        assert_eq!(e, Configured::Error("bad".into()));
    }
}
