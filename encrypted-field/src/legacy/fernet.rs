//! Fernet tokens (to be written).
