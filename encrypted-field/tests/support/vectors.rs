//! Reads the `[kind] name` / `field = hex` blocks of the vector files in `tests/vectors/`.

use std::collections::HashMap;

/// One block of a vector file.
pub struct Vector {
    pub kind: String,
    pub name: String,
    fields: HashMap<String, String>,
}

impl Vector {
    /// A field as text.
    pub fn text(&self, field: &str) -> &str {
        self.fields
            .get(field)
            .unwrap_or_else(|| panic!("vector `{}` has no field `{field}`", self.name))
    }

    /// A field decoded from hex.
    pub fn bytes(&self, field: &str) -> Vec<u8> {
        hex::decode(self.text(field))
            .unwrap_or_else(|e| panic!("vector `{}` field `{field}`: {e}", self.name))
    }
}

/// Every block of `text`, in order; `#` lines are comments.
pub fn parse(text: &str) -> Vec<Vector> {
    let mut vectors: Vec<Vector> = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Some(header) = line.strip_prefix('[') {
            let (kind, name) = header.split_once(']').expect("a header is `[kind] name`");
            vectors.push(Vector {
                kind: kind.to_owned(),
                name: name.trim().to_owned(),
                fields: HashMap::new(),
            });
        } else {
            let (key, value) = line.split_once('=').expect("a field is `key = value`");
            let current = vectors.last_mut().expect("a field follows a header");
            current
                .fields
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    vectors
}
