use encrypted_field::EncryptedModel;

struct Encrypted<T>(T);

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted]
    _ssn: i32,
    #[encrypted]
    _phone: Encrypted<String>,
    #[encrypted]
    _email: Option<Option<String>>,
}

fn main() {}
