//! The `encrypted-field` command-line tool: see [`encrypted_field::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    encrypted_field::cli::run()
}
