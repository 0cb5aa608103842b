//! Keeps the allocator from holding on to memory a run has freed.
//!
//! A run encodes large blocks on one thread and sends them from another, and glibc keeps freed
//! memory in per-thread arenas, raising its mmap threshold after every large free: two threads
//! that each once held a 32 MiB block keep both. Allocations of 4 MiB and more are mapped and
//! unmapped on their own instead, which holds a run's peak memory to what it uses at once.

/// Buffers at least this large are mapped on their own and returned when freed.
const MMAP_THRESHOLD: libc::c_int = 4 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_large_frees() {
    // SAFETY: `mallopt` only changes allocator parameters; it is called before any thread is
    // started, and both parameters take a byte count.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_frees() {}
