//! One command, start to finish: find the database and the keys, then run the command with what
//! it needs and nothing more (`raw` needs no key; `keys …` needs no database).

use std::process::ExitCode;

use encrypted_field::KeyRing;

use crate::cli::{AppCommand, Args};
use crate::commands;
use crate::db::{Connection, Location};
use crate::embedded;
use crate::error::AppError;
use crate::keys::KeySource;
use crate::output::{Output, RowFormat};
use crate::serve::{self, ServeOptions};

/// Runs the parsed command line.
pub fn run(args: Args) -> Result<ExitCode, AppError> {
    let location = Location::from_env()?;
    let keys = KeySource::detect(&location);
    let mut out = Output::stdout();
    // Keys first: a configuration error is reported before any connection is made.
    let open = || -> Result<(KeyRing, Connection), AppError> {
        let ring = keys.ring()?;
        Ok((ring, location.open()?))
    };
    match args.command {
        AppCommand::Create { name, phone, json } => {
            let (ring, mut db) = open()?;
            commands::create(&mut db, &ring, &mut out, &name, &phone, json)?;
        }
        AppCommand::Get { id, json } => {
            let (ring, mut db) = open()?;
            commands::get(&mut db, &ring, &mut out, id, json)?;
        }
        AppCommand::Update { id, phone, json } => {
            let (ring, mut db) = open()?;
            commands::update(&mut db, &ring, &mut out, id, &phone, json)?;
        }
        AppCommand::Find { phone, json } => {
            let (ring, mut db) = open()?;
            commands::find(&mut db, &ring, &mut out, &phone, json)?;
        }
        AppCommand::List { json } => {
            let (ring, mut db) = open()?;
            commands::list(&mut db, &ring, &mut out, RowFormat::text_or_array(json))?;
        }
        AppCommand::Raw { json } => {
            let mut db = location.open()?;
            commands::raw(&mut db, &mut out, json)?;
        }
        AppCommand::Seed { count } => {
            let (ring, mut db) = open()?;
            commands::seed(&mut db, &ring, &mut out, count)?;
        }
        AppCommand::Export { json: _ } => {
            let (ring, mut db) = open()?;
            commands::list(&mut db, &ring, &mut out, RowFormat::JsonLines)?;
        }
        AppCommand::Serve {
            listen,
            pool_size,
            check_in_interval,
        } => {
            drop(out);
            let options = ServeOptions {
                listen,
                pool_size,
                check_in_interval,
            };
            return serve::run(options, &location, &keys);
        }
        AppCommand::Encryption(command) => {
            drop(out);
            return embedded::run(command, &location, &keys);
        }
    }
    Ok(ExitCode::SUCCESS)
}
