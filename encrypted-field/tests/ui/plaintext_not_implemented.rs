use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "accounts")]
struct Account {
    id: i32,
    #[encrypted(ty = f64)]
    _balance: Vec<u8>,
}

fn main() {}
