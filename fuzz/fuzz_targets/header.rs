#![no_main]
//! Fuzz target: canopy_schemas::fuzzing::header (never panics; accepted input round-trips).

libfuzzer_sys::fuzz_target!(|data: &[u8]| canopy_schemas::fuzzing::header(data));
