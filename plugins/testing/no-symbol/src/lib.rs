//! A shared library without the `mailbeat_plugin` entry symbol: the agent must refuse it by name.

#![allow(unsafe_code)]

#[no_mangle]
pub extern "C" fn some_other_symbol() -> u32 {
    7
}
