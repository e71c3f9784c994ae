//! The `sentinel` command: a thin layer of argument parsing over the library crates.

mod cli;

/// mimalloc: the load generator and the servers allocate small, short-lived buffers on every
/// request from several threads, where it costs markedly less CPU than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
