use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "statuses")]
enum Status {
    Active,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "pairs")]
struct Pair(i32, Vec<u8>);

#[derive(EncryptedModel)]
#[encrypted_model(table = "plain")]
struct Plain {
    id: i32,
    ssn: Vec<u8>,
}

fn main() {}
