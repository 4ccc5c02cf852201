use encrypted_field::EncryptedModel;

// An insertable form without the key: a row-bound value cannot be sealed without it.
#[derive(EncryptedModel)]
#[encrypted_model(table = "people", primary_key = "id", primary_key_type = i64)]
struct NewPerson {
    name: String,
    #[encrypted(bind_row)]
    _ssn: Option<Vec<u8>>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "people")]
struct WithValue {
    id: i64,
    #[encrypted(bind_row = true)]
    _ssn: Option<Vec<u8>>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "people")]
struct Twice {
    id: i64,
    #[encrypted(bind_row, bind_row)]
    _ssn: Option<Vec<u8>>,
}

fn main() {}
