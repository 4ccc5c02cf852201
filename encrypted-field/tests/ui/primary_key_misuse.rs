use encrypted_field::EncryptedModel;

#[derive(EncryptedModel)]
#[encrypted_model(table = "no_key")]
struct NoKey {
    key: i32,
    #[encrypted]
    _ssn: Vec<u8>,
}

#[derive(diesel::Queryable, EncryptedModel)]
#[diesel(table_name = composite, primary_key(tenant, number))]
struct Composite {
    tenant: i32,
    number: i32,
    #[encrypted]
    _ssn: Vec<u8>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "float_key")]
struct FloatKey {
    id: f64,
    #[encrypted]
    _ssn: Vec<u8>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "new_customers", primary_key = "id")]
struct NewCustomer {
    #[encrypted]
    _ssn: Vec<u8>,
}

#[derive(EncryptedModel)]
#[encrypted_model(table = "encrypted_key")]
struct EncryptedKey {
    #[encrypted]
    id: Vec<u8>,
}

fn main() {}
