use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(tabel = "customers")]
struct Customer {
    id: i32,
    #[encrypted(nmae = "phone", blind_index = "phone_bidx")]
    _phone: Vec<u8>,
    phone_bidx: Vec<u8>,
}

fn main() {}
