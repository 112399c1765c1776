//! `/probe?…`: the query string of a scrape, as hyper hands it over (any bytes a client sends in
//! the request target that hyper accepts; here any UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    let (target, probe) = mailbeat::http::parse_probe_query(query);
    // What `/probe` does next with the names, short of running a check.
    if let Some(t) = target {
        let _ = format!("unknown target {t:?}\n");
    }
    if let Some(p) = probe {
        let _ = format!("has no probe {p:?}\n");
    }
});
