//! A hand-written ABI v1 plugin whose `run` answers with text that is not a result: the agent
//! must report `plugin_error` naming the plugin.

#![allow(unsafe_code)]

use mailbeat_sdk::abi::{PluginDescriptor, ABI_VERSION};
use std::ffi::{c_char, CString};

extern "C" fn describe() -> *mut c_char {
    CString::new(r#"{"uses_credentials":false,"metrics":[]}"#)
        .unwrap()
        .into_raw()
}

extern "C" fn is_default_for(_target: *const c_char) -> i32 {
    0
}

extern "C" fn configure(_target: *const c_char, _options: *const c_char) -> *mut c_char {
    CString::new(r#"{"handle":1}"#).unwrap().into_raw()
}

extern "C" fn run(_handle: u64, _request: *const c_char, _timeout_ms: u64) -> *mut c_char {
    CString::new("this is { not a result").unwrap().into_raw()
}

extern "C" fn release(_handle: u64) {}

extern "C" fn free(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: every string this library hands out comes from `CString::into_raw`.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    abi_version: ABI_VERSION,
    name: c"bad-json".as_ptr(),
    version: c"0.1.0".as_ptr(),
    describe,
    is_default_for,
    configure,
    run,
    release,
    free,
};

#[no_mangle]
pub extern "C" fn mailbeat_plugin() -> *const PluginDescriptor {
    &DESCRIPTOR
}
