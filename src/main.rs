use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    edensync::cli::main()
}

/// glibc gives each thread that allocates its own arena and keeps freed
/// memory in it: with imports moving between blocking threads, the resident
/// size would grow with the thread count rather than with the work. Two
/// arenas keep memory flat at no measurable cost in speed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only adjusts allocator parameters; called once at
    // start-up, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
