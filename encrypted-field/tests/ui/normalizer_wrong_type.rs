use encrypted_field::EncryptedModel;

fn digits_only(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted(blind_index = "phone_bidx", normalize = digits_only)]
    _phone: Vec<u8>,
    phone_bidx: Vec<u8>,
}

fn main() {}
