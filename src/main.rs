use std::process::ExitCode;

fn main() -> ExitCode {
    edensync::cli::main()
}
