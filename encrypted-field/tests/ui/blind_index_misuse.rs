use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
struct Customer {
    id: i32,
    #[encrypted(blind_index = "_phone")]
    _phone: Vec<u8>,
    #[encrypted(blind_index = "_phone")]
    _email: Vec<u8>,
    #[encrypted(blind_index = "id")]
    _name: Vec<u8>,
    #[encrypted(blind_index = "ssn_bidx")]
    _ssn: Option<Vec<u8>>,
    ssn_bidx: Vec<u8>,
    #[encrypted(blind_index = "ssn_bidx")]
    _tax_id: Vec<u8>,
    #[encrypted(blind_index = "iban_bidx")]
    _iban: Vec<u8>,
    iban_bidx: [u8; 32],
    #[encrypted(normalize = digits)]
    _fax: Vec<u8>,
}

fn main() {}
