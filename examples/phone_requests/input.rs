//! Checks on what the user types, before anything is encrypted or stored. A bad value is a usage
//! error (exit status 2 on the command line, `400` from `serve`) that says what is wrong without
//! repeating the phone number. `field` names the value as the user gave it: `--phone` on the
//! command line, `phone` in a JSON body.

use crate::error::AppError;

/// The longest requester name (the MySQL column is `VARCHAR(200)`).
const MAX_NAME_CHARS: usize = 200;
/// The longest phone number, in characters.
const MAX_PHONE_CHARS: usize = 64;
/// The fewest digits a phone number to store has (the blind index sees only the digits).
const MIN_PHONE_DIGITS: usize = 3;

/// A requester name: not blank, at most [`MAX_NAME_CHARS`] characters; surrounding white space
/// is dropped.
pub fn requester_name(field: &str, name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::usage(format!("{field} is empty")));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(AppError::usage(format!(
            "{field} has {chars} characters; at most {MAX_NAME_CHARS} are allowed"
        )));
    }
    Ok(name.to_owned())
}

/// A phone number to store: at most [`MAX_PHONE_CHARS`] characters, of which at least
/// [`MIN_PHONE_DIGITS`] digits; surrounding white space is dropped.
pub fn phone<'a>(field: &str, phone: &'a str) -> Result<&'a str, AppError> {
    let phone = phone.trim();
    let chars = phone.chars().count();
    if chars > MAX_PHONE_CHARS {
        return Err(AppError::usage(format!(
            "{field} has {chars} characters; at most {MAX_PHONE_CHARS} are allowed"
        )));
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if digits < MIN_PHONE_DIGITS {
        return Err(AppError::usage(format!(
            "{field} has {digits} digits; a phone number needs at least {MIN_PHONE_DIGITS}"
        )));
    }
    Ok(phone)
}

/// A phone number to look up: any text with at least one digit (only the digits are compared).
pub fn phone_to_find<'a>(field: &str, phone: &'a str) -> Result<&'a str, AppError> {
    if phone.chars().any(|c| c.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(AppError::usage(format!(
            "{field} has no digits; lookups compare the digits of phone numbers only"
        )))
    }
}
