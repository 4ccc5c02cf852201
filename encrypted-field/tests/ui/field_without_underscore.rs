use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted]
    ssn: Option<Vec<u8>>,
}

fn main() {}
