//! A library of a future ABI: the entry symbol's descriptor starts with version 999. The agent
//! must read that field, refuse the library by name and call nothing else.

#![allow(unsafe_code)]

/// Only the header: a different ABI may have any layout after it.
#[repr(C)]
pub struct Header {
    pub abi_version: u32,
}

static HEADER: Header = Header { abi_version: 999 };

#[no_mangle]
pub extern "C" fn mailbeat_plugin() -> *const Header {
    &HEADER
}
