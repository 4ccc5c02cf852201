use encrypted_field::{EncryptedModel, KeyRing};

// One mistake in an attribute is one error: the accessors the derive would have generated still
// exist (as stubs), so the code that uses them adds no "no method named ..." errors.
#[derive(EncryptedModel)]
#[encrypted_model(table = "customers")]
pub struct Customer {
    id: i32,
    #[encrypted(nmae = "social_security_number")]
    _ssn: Option<Vec<u8>>,
    #[encrypted(name = "phone", blind_index = "phone_bidx", normalize = digits, colour = "red")]
    _phone_number: Vec<u8>,
    phone_bidx: String,
    #[encrypted(ty = i64, column = 7)]
    _credit_limit: Vec<u8>,
}

fn use_every_accessor(customer: &mut Customer, ring: &KeyRing) -> Result<(), encrypted_field::Error> {
    let ssn: Option<String> = customer.ssn()?;
    let _ = customer.ssn_with(ring)?;
    customer.set_ssn(ssn.unwrap_or_default())?;
    customer.set_ssn_with(ring, "078-05-1120")?;
    customer.clear_ssn();
    let phone: String = customer.phone()?;
    customer.set_phone(phone)?;
    let index: String = Customer::phone_index("+1 555 0100")?;
    let _ = Customer::phone_index_with(ring, "+1 555 0100")?;
    customer.phone_bidx = index;
    let limit: i64 = customer.credit_limit()?;
    customer.set_credit_limit(limit + 1)?;
    Ok(())
}

fn main() {
    let _ = use_every_accessor;
}
