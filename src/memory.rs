//! Giving freed heap back to the system. A sync parses whole listings (hundreds of MB at
//! 10,000 clusters) and frees them when it ends, but glibc keeps freed pages in its arenas:
//! measured at the `large` dataset, 350 MiB resident after a sync of which 290 MiB was free
//! heap. Trimming once per sync run keeps the service's resident size to what it holds.
//! Requests free their buffers in whichever arena their thread used: glibc's default of up to
//! 8 arenas per core kept 177–194 MiB resident after `bench reads` at `large`; two arenas kept
//! 87–145 MiB with the same throughput.

/// Arenas glibc may create: one per core of this 2-core class of machine is enough for a few
/// workers, and each arena holds freed memory of its own.
const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas (a no-op on other C libraries). Call first in `main`, before any
/// thread starts, so every thread shares the capped set.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only sets a field of glibc's malloc parameters; called before other
        // threads allocate, it races with nothing.
        unsafe { mallopt(M_ARENA_MAX, ARENAS) };
    }
}

/// Returns free heap pages to the system (glibc `malloc_trim`); a no-op on other C libraries.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no
        // pointer and is safe to call from any thread at any time.
        let released = unsafe { malloc_trim(0) };
        tracing::debug!(released = released != 0, "free heap returned to the system");
    }
}
