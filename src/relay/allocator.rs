//! The Lambda's allocator setting: large buffers go back to the system when freed.
//!
//! A 1 MB thumbnail passes through several buffers of 1–2 MB (the Runtime API's response, the
//! JSON body's base64 text, the decoded image). glibc serves such sizes with `mmap` at first,
//! but after the first one is freed it raises its threshold to that size (up to 32 MB) and
//! serves the next ones from the heap, where freed memory stays resident. A fixed threshold
//! keeps every large buffer in its own mapping, unmapped on free: peak RSS after 1,000 mixed
//! events went from 21.0 to 18.8 MB in `make bench`'s RSS run, non-LTO builds (docs/performance.md).

/// The size from which glibc maps each allocation on its own (its initial default).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 128 * 1024;

/// Sets the fixed mmap threshold. Call once, first thing in `main`, before other threads start.
pub fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}
