//! The README's diesel-async example, run on PostgreSQL (PG_DATABASE_URL): the code between the
//! markers below is the README's code block, character for character (a test checks it).
#![allow(
    dead_code,
    reason = "`main` is the README's; the test calls `store_and_read`"
)]

// README begin
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use encrypted_field::diesel::Encrypted;

diesel::table! {
    phone_requests (id) {
        id -> Integer,
        phone_number -> Binary,
    }
}

encrypted_field::column_context!(PhoneNumber = "phone_requests.phone_number");

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = phone_requests)]
struct PhoneRequest {
    id: i32,
    phone_number: Encrypted<String, PhoneNumber>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keys come from the environment on first use (see Keys), as with synchronous Diesel.
    store_and_read(&std::env::var("DATABASE_URL")?).await
}

async fn store_and_read(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let conn = &mut AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(
        "CREATE TEMPORARY TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number BYTEA NOT NULL)",
    )
    .execute(conn)
    .await?;

    let request = PhoneRequest {
        id: 1,
        phone_number: Encrypted::new("+1 555 0100".into()),
    };
    diesel::insert_into(phone_requests::table)
        .values(&request)
        .execute(conn)
        .await?;

    let read = phone_requests::table
        .select(PhoneRequest::as_select())
        .first(conn)
        .await?;
    assert_eq!(*read.phone_number, "+1 555 0100");
    Ok(())
}
// README end

#[test]
fn the_readme_example_runs() {
    crate::run::<AsyncPgConnection>(async |url| store_and_read(&url).await.unwrap());
}

#[test]
fn the_readme_shows_this_example() {
    let this = include_str!("readme.rs");
    let example = this
        .split_once("// README begin\n")
        .and_then(|(_, rest)| rest.split_once("// README end\n"))
        .map(|(example, _)| example)
        .unwrap();
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&format!("```rust\n{example}```\n")),
        "README.md's diesel-async section shows the code of tests/diesel_async/readme.rs"
    );
}
