use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
struct Customer {
    id: i32,
    #[encrypted]
    _ssn: Option<Vec<u8>>,
}

fn main() {}
