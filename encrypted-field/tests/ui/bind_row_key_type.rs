use encrypted_field::EncryptedModel;

// The key's SQL type is declared an integer, but the field cannot be bound into a value.
#[derive(EncryptedModel)]
#[encrypted_model(table = "readings", primary_key_type = i64)]
struct Reading {
    id: f64,
    #[encrypted(bind_row)]
    _value: Vec<u8>,
}

fn main() {}
