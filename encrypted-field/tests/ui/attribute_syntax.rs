use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers; DROP TABLE customers", table = "again")]
struct Customer {
    id: i32,
    #[encrypted = "ssn"]
    _ssn: Vec<u8>,
    #[encrypted(name = "phone", name = "mobile")]
    _phone: Vec<u8>,
    #[encrypted(name = "e-mail")]
    _email: Vec<u8>,
    #[encrypted]
    #[encrypted]
    _fax: Vec<u8>,
    #[encrypted]
    _type: Vec<u8>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = suppliers)]
struct Supplier {
    id: i32,
    #[encrypted(blind_index = phone_bidx)]
    _phone: Vec<u8>,
    phone_bidx: Vec<u8>,
}

fn main() {}
