use encrypted_field::EncryptedModel;

// Every mistake is reported in one compilation, each at its token.
#[derive(EncryptedModel)]
struct Customer {
    id: i32,
    #[encrypted(nmae = "ssn")]
    _ssn: i32,
    #[encrypted(blind_index = "phone_bidx")]
    phone: Vec<u8>,
}

fn main() {}
