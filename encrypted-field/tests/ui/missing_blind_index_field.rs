use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted(blind_index = "phone_bidx", normalize = digits)]
    _phone: Vec<u8>,
    phone_index: Vec<u8>,
}

fn main() {}
