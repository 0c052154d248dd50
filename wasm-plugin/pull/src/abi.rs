//! The exported C ABI (version [`ABI_VERSION`]): thin wrappers that check their arguments and
//! call [`Pull`]. Every function is safe to call with any handle; pointers must follow the
//! ownership rules of the crate documentation.

use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use crate::pull::{self, Pull, ERR_ARGUMENT, ERR_LIMIT};

/// The version of this ABI: changes whenever a signature or a code changes meaning.
pub const ABI_VERSION: u32 = 1;

/// The most sessions alive at once; `certpull_session_new` answers [`ERR_LIMIT`] beyond.
pub const MAX_SESSIONS: usize = 64;

struct Slot {
    generation: u32,
    pull: Option<Box<Pull>>,
}

struct Table {
    slots: Vec<Slot>,
    last_error: String,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    slots: Vec::new(),
    last_error: String::new(),
});

fn table() -> std::sync::MutexGuard<'static, Table> {
    // A panic aborts the module (panic = "abort"); on a host build a poisoned lock is still
    // consistent, every update being a single assignment.
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Handles are `generation << 8 | (index + 1)`, positive, so a freed handle is not mistaken for
/// its slot's next session.
fn handle_of(index: usize, generation: u32) -> i32 {
    let low = u32::try_from(index.saturating_add(1)).unwrap_or(0) & 0xff;
    i32::try_from((generation & 0x7f_ffff) << 8 | low).unwrap_or(ERR_ARGUMENT)
}

fn with_pull<T>(handle: i32, f: impl FnOnce(&mut Pull) -> T) -> Option<T> {
    let handle = u32::try_from(handle).ok()?;
    let index = usize::try_from(handle & 0xff).ok()?.checked_sub(1)?;
    let mut table = table();
    let slot = table.slots.get_mut(index)?;
    if slot.generation & 0x7f_ffff != handle >> 8 {
        return None;
    }
    slot.pull.as_deref_mut().map(f)
}

/// The bytes at `ptr`, or `None` for a null pointer with a non-zero length.
///
/// # Safety
/// `ptr` must point to `len` readable bytes (see the crate's ownership rules).
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// # Safety
/// `ptr` must point to `len` writable bytes (see the crate's ownership rules).
unsafe fn output<'a>(ptr: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if len == 0 {
        return Some(&mut []);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `len` writable bytes at `ptr`, not aliased during the call.
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Copies as much of `text` as fits into the caller's buffer; returns the whole length.
///
/// # Safety
/// As for [`output`].
unsafe fn copy_out(text: &[u8], out: *mut u8, cap: usize) -> i32 {
    // SAFETY: forwarded from the caller.
    let Some(buffer) = (unsafe { output(out, cap) }) else {
        return ERR_ARGUMENT;
    };
    let count = text.len().min(buffer.len());
    if let (Some(dst), Some(src)) = (buffer.get_mut(..count), text.get(..count)) {
        dst.copy_from_slice(src);
    }
    i32::try_from(text.len()).unwrap_or(i32::MAX)
}

/// The ABI version, [`ABI_VERSION`]. Hosts check it before anything else.
#[no_mangle]
pub extern "C" fn certpull_abi_version() -> u32 {
    ABI_VERSION
}

/// Allocates `len` bytes in the module's memory for the host to fill (inputs) or to receive
/// results in (outputs). Returns null when `len` is 0 or memory is exhausted. The host owns
/// the block and returns it with [`certpull_free`] and the same `len`.
#[no_mangle]
pub extern "C" fn certpull_alloc(len: usize) -> *mut u8 {
    match std::alloc::Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) if len > 0 => unsafe { std::alloc::alloc(layout) },
        _ => std::ptr::null_mut(),
    }
}

/// Frees a block from [`certpull_alloc`]. Null or `len` 0 is a no-op.
///
/// # Safety
/// `ptr` must come from `certpull_alloc(len)` with the same `len`, and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn certpull_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = std::alloc::Layout::from_size_align(len, 1) {
        // SAFETY: the caller guarantees `ptr` was allocated with this layout.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

/// [`certpull_session_new_with_flags`] with no flags.
///
/// # Safety
/// As for [`certpull_session_new_with_flags`].
#[no_mangle]
pub unsafe extern "C" fn certpull_session_new(
    name_ptr: *const u8,
    name_len: usize,
    starttls: u32,
    anchors_ptr: *const u8,
    anchors_len: usize,
    unix_seconds: u64,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        certpull_session_new_with_flags(
            name_ptr,
            name_len,
            starttls,
            anchors_ptr,
            anchors_len,
            unix_seconds,
            0,
        )
    }
}

/// Creates a pull session: `name` (UTF-8 DNS name or IP address) is sent as SNI and must be
/// named by the leaf; `starttls` is a protocol id (0 none, 1 smtp, 2 lmtp, 3 imap, 4 pop3,
/// 5 ftp, 6 xmpp, 7 ldap, 8 postgres, 9 mysql); `anchors` is PEM text of the trusted roots
/// (length 0: capture only, nothing judged); `unix_seconds` is the current time, used for
/// the whole session; `flags` bit 0 ([`pull::FLAG_CAPTURE_ONLY`]) judges the chain against the
/// anchors without failing on it.
///
/// Returns a handle (> 0) or a negative error code; the error's text is then available from
/// [`certpull_last_error`]. The inputs are copied: the host may free them on return.
///
/// # Safety
/// `name_ptr`/`anchors_ptr` must point to `name_len`/`anchors_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_new_with_flags(
    name_ptr: *const u8,
    name_len: usize,
    starttls: u32,
    anchors_ptr: *const u8,
    anchors_len: usize,
    unix_seconds: u64,
    flags: u32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    let (name, anchors) = unsafe { (input(name_ptr, name_len), input(anchors_ptr, anchors_len)) };
    let (Some(name), Some(anchors)) = (name, anchors) else {
        table().last_error = "null pointer with a non-zero length".into();
        return ERR_ARGUMENT;
    };
    let Ok(name) = std::str::from_utf8(name) else {
        table().last_error = "the server name is not UTF-8".into();
        return ERR_ARGUMENT;
    };
    let pull = match Pull::new(name, starttls, anchors, unix_seconds, flags) {
        Ok(pull) => pull,
        Err((code, text)) => {
            table().last_error = text;
            return code;
        }
    };
    let mut table = table();
    let free = table.slots.iter().position(|slot| slot.pull.is_none());
    let index = match free {
        Some(index) => index,
        None if table.slots.len() < MAX_SESSIONS => {
            table.slots.push(Slot {
                generation: 0,
                pull: None,
            });
            table.slots.len().saturating_sub(1)
        }
        None => {
            table.last_error = format!("too many sessions (at most {MAX_SESSIONS})");
            return ERR_LIMIT;
        }
    };
    let Some(slot) = table.slots.get_mut(index) else {
        return ERR_LIMIT;
    };
    slot.generation = slot.generation.wrapping_add(1);
    slot.pull = Some(Box::new(pull));
    let generation = slot.generation;
    handle_of(index, generation)
}

/// Copies the text of the last `certpull_session_new` failure into `out` (at most `cap`
/// bytes) and returns its whole length.
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_last_error(out: *mut u8, cap: usize) -> i32 {
    let text = table().last_error.clone();
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(text.as_bytes(), out, cap) }
}

/// Hands over `len` bytes received from the server (copied). Returns 0, or a negative error
/// code (more than `certpull_session_receive_capacity` bytes at once ends the session with
/// [`ERR_LIMIT`]).
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_feed(handle: i32, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from the caller.
    let Some(data) = (unsafe { input(ptr, len) }) else {
        return ERR_ARGUMENT;
    };
    with_pull(handle, |pull| pull.feed(data)).unwrap_or(ERR_ARGUMENT)
}

/// Records that the server closed the connection. Returns 0 or [`ERR_ARGUMENT`].
#[no_mangle]
pub extern "C" fn certpull_session_feed_eof(handle: i32) -> i32 {
    with_pull(handle, |pull| {
        pull.feed_eof();
        0
    })
    .unwrap_or(ERR_ARGUMENT)
}

/// How many bytes the next `certpull_session_feed` accepts.
#[no_mangle]
pub extern "C" fn certpull_session_receive_capacity(handle: i32) -> i32 {
    with_pull(handle, |pull| {
        i32::try_from(pull.receive_capacity()).unwrap_or(i32::MAX)
    })
    .unwrap_or(ERR_ARGUMENT)
}

/// Runs the handshake as far as the bytes fed allow: 0 needs input (send the pending output,
/// then feed what the server answers), 1 complete, or a negative error code. After any
/// result, the host sends the pending output first (after an error it may hold an alert).
#[no_mangle]
pub extern "C" fn certpull_session_advance(handle: i32) -> i32 {
    with_pull(handle, Pull::advance).unwrap_or(ERR_ARGUMENT)
}

/// How many bytes are waiting to be sent to the server.
#[no_mangle]
pub extern "C" fn certpull_session_output_len(handle: i32) -> i32 {
    with_pull(handle, |pull| {
        i32::try_from(pull.pending_output().len()).unwrap_or(i32::MAX)
    })
    .unwrap_or(ERR_ARGUMENT)
}

/// Moves up to `cap` bytes of pending output into `out`; returns how many (0: nothing left).
/// The host must send them, in order, before feeding more.
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_take_output(
    handle: i32,
    out: *mut u8,
    cap: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    let Some(buffer) = (unsafe { output(out, cap) }) else {
        return ERR_ARGUMENT;
    };
    with_pull(handle, |pull| {
        i32::try_from(pull.take_output(buffer)).unwrap_or(i32::MAX)
    })
    .unwrap_or(ERR_ARGUMENT)
}

/// Copies the chain the server sent (PEM, leaf first; empty until known) into `out`, at most
/// `cap` bytes; returns its whole length. The chain is known after completion, and after a
/// validation refusal ([`pull::ERR_REJECTED`]).
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_chain_pem(handle: i32, out: *mut u8, cap: usize) -> i32 {
    let Some(text) = with_pull(handle, |pull| pull.chain_pem()) else {
        return ERR_ARGUMENT;
    };
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(text.as_bytes(), out, cap) }
}

/// Copies the summary JSON (see README) into `out`, at most `cap` bytes; returns its whole
/// length.
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_summary_json(
    handle: i32,
    out: *mut u8,
    cap: usize,
) -> i32 {
    let Some(text) = with_pull(handle, |pull| pull.summary_json()) else {
        return ERR_ARGUMENT;
    };
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(text.as_bytes(), out, cap) }
}

/// The verdict code: -1 none yet, 0 valid, 1 not checked, 2 unknown issuer, 3 name mismatch,
/// 4 expired, 5 not yet valid, 6 bad signature, 7 unsupported signature algorithm, 8 invalid
/// purpose, 9 bad encoding, 10 unhandled critical extension, 11 other. An invalid handle
/// gives [`ERR_ARGUMENT`] (-1 as well: check the handle first).
#[no_mangle]
pub extern "C" fn certpull_session_verdict(handle: i32) -> i32 {
    with_pull(handle, |pull| pull.verdict()).unwrap_or(ERR_ARGUMENT)
}

/// Copies the error text (empty without an error) into `out`, at most `cap` bytes; returns
/// its whole length.
///
/// # Safety
/// `out` must point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_session_error(handle: i32, out: *mut u8, cap: usize) -> i32 {
    let Some(text) = with_pull(handle, |pull| pull.error_text()) else {
        return ERR_ARGUMENT;
    };
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(text.as_bytes(), out, cap) }
}

/// Ends a session and frees everything it held. Returns 0 or [`ERR_ARGUMENT`]; the handle is
/// invalid afterwards.
#[no_mangle]
pub extern "C" fn certpull_session_free(handle: i32) -> i32 {
    let Ok(handle) = u32::try_from(handle) else {
        return ERR_ARGUMENT;
    };
    let Some(index) = usize::try_from(handle & 0xff)
        .ok()
        .and_then(|i| i.checked_sub(1))
    else {
        return ERR_ARGUMENT;
    };
    let mut table = table();
    match table.slots.get_mut(index) {
        Some(slot) if slot.generation & 0x7f_ffff == handle >> 8 && slot.pull.is_some() => {
            slot.pull = None;
            0
        }
        _ => ERR_ARGUMENT,
    }
}

/// Whether the leaf certificate (DER) carries the public key `spki` (DER
/// SubjectPublicKeyInfo, e.g. derived from the local private key): 1 yes, 0 no,
/// [`ERR_ARGUMENT`] if the certificate cannot be parsed.
///
/// # Safety
/// The pointers must point to `leaf_len`/`spki_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn certpull_keymatch(
    leaf_ptr: *const u8,
    leaf_len: usize,
    spki_ptr: *const u8,
    spki_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    let (leaf, spki) = unsafe { (input(leaf_ptr, leaf_len), input(spki_ptr, spki_len)) };
    match (leaf, spki) {
        (Some(leaf), Some(spki)) => pull::keymatch(leaf, spki),
        _ => ERR_ARGUMENT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> i32 {
        // SAFETY: valid slices.
        unsafe { certpull_session_new(name.as_ptr(), name.len(), 0, std::ptr::null(), 0, 0) }
    }

    #[test]
    fn handles_are_checked_and_not_reused_after_free() {
        let handle = new("h.example");
        assert!(handle > 0);
        assert_eq!(certpull_session_advance(handle), pull::STATUS_NEEDS_INPUT);
        assert!(certpull_session_output_len(handle) > 0);
        assert_eq!(certpull_session_free(handle), 0);
        assert_eq!(certpull_session_free(handle), ERR_ARGUMENT);
        assert_eq!(certpull_session_advance(handle), ERR_ARGUMENT);
        let again = new("h.example");
        assert_ne!(again, handle, "a freed handle is not given again");
        assert_eq!(certpull_session_advance(handle), ERR_ARGUMENT);
        assert_eq!(certpull_session_free(again), 0);
        for bad in [0, -5, 0x7fff_ffff, 255] {
            assert_eq!(certpull_session_advance(bad), ERR_ARGUMENT);
            assert_eq!(certpull_session_verdict(bad), ERR_ARGUMENT);
        }
    }

    #[test]
    fn failures_of_new_are_explained() {
        assert_eq!(new("bad name!"), ERR_ARGUMENT);
        let mut buffer = [0u8; 256];
        // SAFETY: a valid buffer.
        let len = unsafe { certpull_last_error(buffer.as_mut_ptr(), buffer.len()) };
        let text = std::str::from_utf8(&buffer[..len as usize]).unwrap();
        assert!(text.contains("invalid server name"), "{text}");
        // A null pointer with a length is refused, not read.
        // SAFETY: the function checks for null before reading.
        let code = unsafe { certpull_session_new(std::ptr::null(), 5, 0, std::ptr::null(), 0, 0) };
        assert_eq!(code, ERR_ARGUMENT);
    }

    #[test]
    fn strings_are_copied_up_to_the_capacity_and_report_their_length() {
        let text = b"0123456789";
        let mut small = [0u8; 4];
        // SAFETY: a valid buffer.
        assert_eq!(
            unsafe { copy_out(text, small.as_mut_ptr(), small.len()) },
            10
        );
        assert_eq!(&small, b"0123");
        // SAFETY: a zero capacity writes nothing.
        assert_eq!(unsafe { copy_out(text, std::ptr::null_mut(), 0) }, 10);
    }

    #[test]
    fn alloc_and_free_round_trip() {
        let ptr = certpull_alloc(100);
        assert!(!ptr.is_null());
        // SAFETY: from certpull_alloc(100).
        unsafe { certpull_free(ptr, 100) };
        assert!(certpull_alloc(0).is_null());
    }
}
