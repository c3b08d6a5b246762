//! Status codes, the thread-local last error, and the panic guard.

use crate::{ClientError, ErrorKind};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Success.
pub const CANOPY_OK: c_int = 0;
/// An argument is NULL, not UTF-8, or out of range.
pub const CANOPY_ERR_INVALID_ARGUMENT: c_int = -1;
/// Nothing arrived, or no answer came, within the time allowed.
pub const CANOPY_ERR_TIMEOUT: c_int = -2;
/// The broker refused the request (see `canopy_last_error`).
pub const CANOPY_ERR_REFUSED: c_int = -3;
/// The key does not exist in the merged view.
pub const CANOPY_ERR_NOT_FOUND: c_int = -4;
/// The caller's buffer is too small; the needed length was written.
pub const CANOPY_ERR_BUFFER_TOO_SMALL: c_int = -5;
/// The node is closed.
pub const CANOPY_ERR_CLOSED: c_int = -6;
/// The broker speaks another protocol version.
pub const CANOPY_ERR_VERSION: c_int = -7;
/// A payload or value could not be encoded or decoded.
pub const CANOPY_ERR_PAYLOAD: c_int = -8;
/// A system or ZeroMQ error.
pub const CANOPY_ERR_IO: c_int = -9;
/// The broker answered something unexpected.
pub const CANOPY_ERR_PROTOCOL: c_int = -10;
/// A bug: the library panicked (the call had no effect you can rely on).
pub const CANOPY_ERR_PANIC: c_int = -11;
/// The broker refused this client's CURVE credentials.
pub const CANOPY_ERR_AUTH: c_int = -13;
/// A write was refused by the store's rules: schema, limit, compare-and-set,
/// put-if-absent or a type mismatch (see `canopy_last_error`).
pub const CANOPY_ERR_CONFLICT: c_int = -12;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// An error on its way to a status code.
pub(crate) struct FfiError {
    code: c_int,
    message: String,
}

impl FfiError {
    pub fn new(code: c_int, message: impl Into<String>) -> Self {
        FfiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(CANOPY_ERR_INVALID_ARGUMENT, message)
    }

    /// The status code it becomes.
    pub fn code(&self) -> c_int {
        self.code
    }
}

impl From<ClientError> for FfiError {
    fn from(e: ClientError) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => CANOPY_ERR_INVALID_ARGUMENT,
            ErrorKind::Auth => CANOPY_ERR_AUTH,
            // Nothing listens there (connection refused, no route): an I/O
            // error; no answer in time: a timeout.
            ErrorKind::Unreachable if matches!(e, ClientError::Unreachable { .. }) => CANOPY_ERR_IO,
            ErrorKind::Unreachable => CANOPY_ERR_TIMEOUT,
            ErrorKind::Conflict => CANOPY_ERR_CONFLICT,
            ErrorKind::Version => CANOPY_ERR_VERSION,
            ErrorKind::Closed => CANOPY_ERR_CLOSED,
            ErrorKind::Payload => CANOPY_ERR_PAYLOAD,
            ErrorKind::Refused => CANOPY_ERR_REFUSED,
            _ if matches!(e, ClientError::Transport(_)) => CANOPY_ERR_IO,
            _ => CANOPY_ERR_PROTOCOL,
        };
        FfiError::new(code, e.to_string())
    }
}

impl From<canopy_schemas::TopicError> for FfiError {
    fn from(e: canopy_schemas::TopicError) -> Self {
        FfiError::invalid(e.to_string())
    }
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

/// Runs `f`, turning its error or panic into a status code and the
/// thread's last error.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), FfiError>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error("");
            CANOPY_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (panic): {what}"));
            CANOPY_ERR_PANIC
        }
    }
}

/// A string the caller owns, to be freed with `canopy_string_free`.
pub(crate) fn owned_string(text: String) -> Result<*mut c_char, FfiError> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| FfiError::new(CANOPY_ERR_PAYLOAD, "text contains a NUL byte"))
}

/// What went wrong in this thread's last failed call ("" after a success).
/// Owned by the library and valid until this thread's next canopy call:
/// copy it if you need it longer. Never NULL.
#[no_mangle]
pub extern "C" fn canopy_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// A short, static description of a status code (`CANOPY_OK` or a
/// `CANOPY_ERR_*`), e.g. for logs; "unknown status" for other values.
/// Never NULL, never freed. `canopy_last_error` says more about a failure.
#[no_mangle]
pub extern "C" fn canopy_strerror(status: c_int) -> *const c_char {
    let text: &'static std::ffi::CStr = match status {
        CANOPY_OK => c"success",
        CANOPY_ERR_INVALID_ARGUMENT => c"invalid argument",
        CANOPY_ERR_TIMEOUT => c"timed out",
        CANOPY_ERR_REFUSED => c"refused by the broker",
        CANOPY_ERR_NOT_FOUND => c"not found",
        CANOPY_ERR_BUFFER_TOO_SMALL => c"buffer too small",
        CANOPY_ERR_CLOSED => c"closed",
        CANOPY_ERR_VERSION => c"version mismatch",
        CANOPY_ERR_PAYLOAD => c"payload cannot be encoded or decoded",
        CANOPY_ERR_IO => c"system or transport error",
        CANOPY_ERR_PROTOCOL => c"unexpected reply from the broker",
        CANOPY_ERR_PANIC => c"internal error",
        CANOPY_ERR_CONFLICT => c"write precondition failed",
        CANOPY_ERR_AUTH => c"credentials refused",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// Frees a string returned by this library (`*_json` functions). NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: `text` came from CString::into_raw in this library.
        drop(unsafe { CString::from_raw(text) });
    }
}

/// Frees a buffer returned by `canopy_get_alloc` (`len` as returned). NULL is ignored.
#[no_mangle]
pub extern "C" fn canopy_buffer_free(data: *mut u8, len: usize) {
    if !data.is_null() {
        // SAFETY: `data`/`len` came from a boxed slice leaked by this library.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: canopy_last_error never returns NULL.
        unsafe { CStr::from_ptr(canopy_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, CANOPY_ERR_PANIC);
        assert!(last().contains("boom"), "{}", last());
        assert_eq!(guard(|| Ok(())), CANOPY_OK);
        assert_eq!(last(), "");
    }

    #[test]
    fn null_arguments_are_refused_not_dereferenced() {
        let mut node = std::ptr::null_mut();
        assert_eq!(
            crate::ffi::canopy_connect(std::ptr::null(), &mut node),
            CANOPY_ERR_INVALID_ARGUMENT
        );
        assert!(last().contains("options is NULL"));
        assert!(node.is_null());
        let mut options = std::mem::MaybeUninit::uninit();
        assert_eq!(
            crate::ffi::canopy_options_init(
                options.as_mut_ptr(),
                std::mem::size_of::<crate::ffi::canopy_options>()
            ),
            CANOPY_OK
        );
        // SAFETY: initialised just above.
        let options = unsafe { options.assume_init() };
        assert_eq!(
            crate::ffi::canopy_connect(&options, &mut node),
            CANOPY_ERR_INVALID_ARGUMENT
        );
        assert!(last().contains("options.name is NULL"), "{}", last());
        assert_eq!(
            crate::ffi::canopy_subscribe(std::ptr::null(), c"x".as_ptr()),
            CANOPY_ERR_INVALID_ARGUMENT
        );
        let mut len = 0usize;
        assert_eq!(
            crate::ffi::canopy_get(
                std::ptr::null(),
                c"k".as_ptr(),
                std::ptr::null_mut(),
                0,
                &mut len
            ),
            CANOPY_ERR_INVALID_ARGUMENT
        );
        // Freeing NULL is a no-op.
        canopy_string_free(std::ptr::null_mut());
        canopy_buffer_free(std::ptr::null_mut(), 0);
        crate::ffi::canopy_close(std::ptr::null_mut());
    }
}
