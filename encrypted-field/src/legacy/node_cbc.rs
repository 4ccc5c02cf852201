//! Node `hex(iv):hex(ct)` (to be written).
