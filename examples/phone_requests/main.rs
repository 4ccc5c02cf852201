//! The Node seed's case, in Rust: a `phone_requests` table whose `phone_number` is encrypted
//! before it reaches the database (AES-256-CBC, authenticated with HMAC-SHA256, versioned keys from
//! Docker secrets), found by phone through a blind index, and rotated to a new key online, on
//! SQLite, MySQL/MariaDB or PostgreSQL, chosen by `DATABASE_URL` at run time.
//!
//! ```sh
//! cargo run --example phone_requests -- create --name "Ada Lovelace" --phone "+1 (555) 010-0100"
//! cargo run --example phone_requests -- find --phone 15550100100
//! cargo run --example phone_requests -- list
//! cargo run --example phone_requests -- raw          # what the database holds: ciphertext only
//! cargo run --example phone_requests -- keys add --activate
//! cargo run --example phone_requests -- export --json
//! cargo run --example phone_requests -- serve --listen 127.0.0.1:8080   # the HTTP JSON service
//! ```
//!
//! See `examples/phone_requests/README.md`, and `docker-compose.yml` beside it for the production
//! shape (MariaDB, keys as Docker secrets).
#![forbid(unsafe_code)]
// `diesel::table!` and the models' fields are not documented item by item.
#![allow(missing_docs)]

mod app;
mod cli;
mod commands;
mod db;
mod embedded;
mod error;
mod fake;
mod input;
mod keys;
mod model;
mod output;
mod serve;
mod store;

use std::process::ExitCode;

use clap::Parser as _;
use encrypted_field::cli::Exit;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            // clap prints help and version on stdout, usage errors on stderr.
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match app::run(args) {
        Ok(code) => code,
        Err(err) => {
            if !err.is_silent() {
                eprintln!("error: {err}");
            }
            err.exit().into()
        }
    }
}
