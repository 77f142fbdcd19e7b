//! The C allocator's settings for the broker process (glibc only).
//!
//! Why: a produce request is read into a buffer of its own size (about 1 MiB from
//! librdkafka) and freed once appended, several in flight per connection. With glibc's
//! defaults the freed space at the top of a worker thread's arena is handed back to the
//! kernel (`madvise(MADV_DONTNEED)`) as soon as it passes twice the largest freed block,
//! and the next request's buffer then takes a page fault per 4 KiB page as the socket
//! read fills it, zeroing each page first: 14 % of the broker's CPU producing 1 KiB
//! records (bench/RESULTS.md § Scale, "the allocator"). Keeping up to [`TRIM_THRESHOLD`]
//! free at the top of each arena, and serving blocks up to [`MMAP_THRESHOLD`] from the
//! arenas instead of their own mappings, lets those pages be reused. The cost is memory
//! kept after a burst: at most the threshold per arena, and only what the burst used.
//!
//! An operator's own `GLIBC_TUNABLES` malloc settings win: nothing is changed then.

/// Free bytes at the top of an arena kept instead of returned to the kernel.
pub const TRIM_THRESHOLD: i32 = 16 << 20;
/// Allocations from this size up get their own mapping (request frames stay below it).
pub const MMAP_THRESHOLD: i32 = 4 << 20;

/// Applies the settings unless `GLIBC_TUNABLES` sets malloc's own; returns whether it did.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn apply() -> bool {
    let operator_set = std::env::var("GLIBC_TUNABLES")
        .map(|t| t.contains("glibc.malloc."))
        .unwrap_or(false);
    if operator_set {
        return false;
    }
    // SAFETY: mallopt only stores the allocator's parameters; it is called before the
    // runtime's threads start, and any value is valid for these two parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    }
}

/// Other C libraries keep their own behaviour.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn apply() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    /// glibc takes both values (`mallopt` answers 1), unless the test runner's own
    /// environment sets malloc tunables, which must then be left alone.
    #[test]
    fn glibc_takes_the_settings_unless_the_operator_set_malloc_tunables() {
        let operator_set = std::env::var("GLIBC_TUNABLES")
            .map(|t| t.contains("glibc.malloc."))
            .unwrap_or(false);
        assert_eq!(super::apply(), !operator_set);
    }
}
