//! Locks shared between the I/O thread and the application's threads.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, carrying on after a panic elsewhere: every value behind these
/// mutexes stays consistent between statements, so a poisoned lock holds
/// nothing half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
