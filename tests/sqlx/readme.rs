//! The README's sqlx example, run on SQLite: the code between the markers below is the README's
//! code block, character for character (a test checks it).
#![allow(
    dead_code,
    reason = "`main` is the README's; the test calls `store_and_read`"
)]

// README begin
use encrypted_field::sqlx::{Encrypted, EncryptedText};
use sqlx::{Connection, SqliteConnection};

encrypted_field::column_context!(PhoneNumber = "phone_requests.phone_number");
encrypted_field::column_context!(Note = "phone_requests.note");

#[derive(sqlx::FromRow)]
struct PhoneRequest {
    id: i64,
    phone_number: Encrypted<String, PhoneNumber>, // BLOB / BYTEA / VARBINARY
    note: Option<EncryptedText<String, Note>>,    // TEXT (base64); NULL is None
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keys come from the environment on first use (see Keys), as with Diesel.
    store_and_read("sqlite::memory:").await
}

async fn store_and_read(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = SqliteConnection::connect(database_url).await?;
    sqlx::query(
        "CREATE TABLE phone_requests (id INTEGER PRIMARY KEY, phone_number BLOB NOT NULL, note TEXT)",
    )
    .execute(&mut conn)
    .await?;

    let phone_number: Encrypted<String, PhoneNumber> = Encrypted::new("+1 555 0100".into());
    let note: EncryptedText<String, Note> = EncryptedText::new("call after 5pm".into());
    sqlx::query("INSERT INTO phone_requests (id, phone_number, note) VALUES (?, ?, ?)")
        .bind(1_i64)
        .bind(&phone_number)
        .bind(Some(&note))
        .execute(&mut conn)
        .await?;

    let read: PhoneRequest = sqlx::query_as("SELECT * FROM phone_requests WHERE id = ?")
        .bind(1_i64)
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(*read.phone_number, "+1 555 0100");
    assert_eq!(
        read.note.as_deref().map(String::as_str),
        Some("call after 5pm")
    );
    Ok(())
}
// README end

#[test]
fn the_readme_example_runs() {
    crate::run::<sqlx::Sqlite>(async |_| store_and_read("sqlite::memory:").await.unwrap());
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
        "README.md's sqlx section shows the code of tests/sqlx/readme.rs"
    );
}
