//! The command line, as `clap` derive types: parsing only, no work. The application's own
//! commands, then the library's (`keys`, `keygen`, `encrypt`, `decrypt`, and the database
//! commands), flattened in with exactly the arguments the standalone `encrypted-field` takes.

use clap::{Parser, Subcommand};

/// The `phone_requests` command line.
#[derive(Debug, Parser)]
#[command(
    name = "phone_requests",
    version,
    about = "Phone requests whose phone numbers are encrypted at rest (AES-256-CBC + HMAC-SHA256, \
             versioned keys, online rotation)",
    after_help = "Database: DATABASE_URL (sqlite://PATH or a path, mysql://…, postgres://…); \
        default ./phone_requests.sqlite3, created and migrated on first use.\n\
        Keys: ENCRYPTED_FIELD_KEYS_DIR (e.g. /run/secrets with enc_key_v1, enc_key_v2, …), \
        DB_ENCRYPTION_KEY_FILE or DB_ENCRYPTION_KEY; blind index: DB_BLIND_INDEX_KEY_FILE or \
        DB_BLIND_INDEX_KEY. With none set, this example makes development keys beside the database.\n\
        Exit status: 0 success, 1 not found or a value failed to decrypt, 2 bad usage or \
        configuration."
)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: AppCommand,
}

/// The subcommands: the application's, then the library's.
#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate the match"
)]
pub enum AppCommand {
    /// Store a phone request; the phone number is encrypted before it reaches the database.
    Create {
        /// Who asks to be called back.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The phone number, in any format (`+1 (555) 010-0100`).
        #[arg(long, value_name = "PHONE")]
        phone: String,
        /// Print the stored request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one phone request, decrypted.
    Get {
        /// Its id.
        id: i32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change the phone number of a phone request (encrypted, with a fresh blind index).
    Update {
        /// Its id.
        id: i32,
        /// The new phone number.
        #[arg(long, value_name = "PHONE")]
        phone: String,
        /// Print the updated request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find phone requests by phone number through the blind index (only the digits count:
    /// `+1 (555) 010-0100` finds `1-555-010-0100`).
    Find {
        /// The phone number to look for.
        #[arg(long, value_name = "PHONE")]
        phone: String,
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every phone request, decrypted.
    List {
        /// Print a JSON array (one object per line) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every row exactly as the database stores it: the ciphertext as base64, the blind
    /// index as hex. Needs no key: this is what a stolen database shows.
    Raw {
        /// Print a JSON array (one object per line) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Insert N fake phone requests, in one transaction.
    Seed {
        /// How many.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        count: u32,
    },
    /// Print every phone request, decrypted, as JSON Lines (one object per line).
    Export {
        /// JSON Lines (the only format; accepted for symmetry with `list --json`).
        #[arg(long)]
        json: bool,
    },
    /// Serve the phone requests over HTTP as JSON: POST /phone-requests {"name","phone"},
    /// GET /phone-requests/{id}, PUT /phone-requests/{id} {"phone"}, GET
    /// /phone-requests?phone=… (through the blind index), GET /healthz (the key versions loaded
    /// and the active one). Prints `listening on http://ADDR` first; stops on SIGTERM or Ctrl-C
    /// once the requests in flight are answered. SQLite databases are switched to WAL mode.
    Serve {
        /// The address and port to listen on (port 0: any free port, as printed).
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The most database connections the service opens.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
        pool_size: u32,
        /// How often this instance reads the key version the database records as active and
        /// checks in to the fleet's instances table (besides after every reload of its key
        /// ring), as `30s`, `5m` or `500ms`. `rotate --new-key` and `keys activate` wait for
        /// every instance's check-in before they activate a new key.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = check_in_interval)]
        check_in_interval: std::time::Duration,
    },
    /// The library's commands.
    #[command(flatten)]
    Encryption(encrypted_field::cli::Command),
}

/// A fleet check-in interval: a humantime duration, not zero.
fn check_in_interval(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(interval) if interval.is_zero() => Err("the interval cannot be zero".to_owned()),
        Ok(interval) => Ok(interval),
        Err(e) => Err(format!("not a duration such as `30s` or `5m`: {e}")),
    }
}
