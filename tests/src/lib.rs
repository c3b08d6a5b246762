//! End-to-end tests for canopy live in `tests/`; this crate also builds the
//! broker and CLI binaries (`src/bin`) so those tests always run current code.
