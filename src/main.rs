use std::process::ExitCode;

fn main() -> ExitCode {
    tune_malloc();
    edensync::cli::main()
}

/// glibc gives each thread that allocates its own arena and keeps freed
/// memory in it: with imports moving between blocking threads, the resident
/// size would grow with the thread count rather than with the work. Two
/// arenas keep memory flat at no measurable cost in speed.
///
/// Blocks of 4 MiB and more (a password hash's 19 MiB) are mapped for
/// themselves and given back when freed. Left to itself glibc raises that
/// threshold after the first such free and takes the blocks from its
/// arenas, where small allocations split the freed space: with 200 peers
/// authenticating at once a hub kept 3.4 GB (BENCHMARKS.md, "A hub").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only adjusts allocator parameters; called once at
    // start-up, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
