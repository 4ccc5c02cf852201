use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted]
    _phone: Vec<u8>,
    #[encrypted(name = "phone")]
    _mobile: Vec<u8>,
    #[encrypted(column = "fax")]
    _fax_old: Vec<u8>,
    #[encrypted(column = "fax")]
    _fax_new: Vec<u8>,
    #[encrypted(column = "id")]
    _shadow: Vec<u8>,
}

fn main() {}
