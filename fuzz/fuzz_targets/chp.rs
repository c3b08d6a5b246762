#![no_main]
//! Fuzz target: canopy_schemas::fuzzing::chp (never panics; accepted input round-trips).

libfuzzer_sys::fuzz_target!(|data: &[u8]| canopy_schemas::fuzzing::chp(data));
