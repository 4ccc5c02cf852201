//! Fake phone requests for `seed`: plausible names and numbers in the 555-01xx range reserved for
//! fiction.

const FIRST_NAMES: [&str; 12] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Katherine",
    "Niklaus",
    "Radia",
    "Ken",
];
const LAST_NAMES: [&str; 12] = [
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson",
    "Wirth", "Perlman", "Thompson",
];

/// A requester name, e.g. `Grace Knuth`.
pub fn requester_name(rng: &mut impl rand::Rng) -> String {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    format!("{first} {last}")
}

/// A phone number in one of a few spellings, e.g. `+1 (555) 010-0142` or `555.010.0142`.
pub fn phone(rng: &mut impl rand::Rng) -> String {
    let area = rng.random_range(200..1000);
    let line = rng.random_range(100..200);
    match rng.random_range(0..3) {
        0 => format!("+1 ({area}) 555-0{line}"),
        1 => format!("{area}.555.0{line}"),
        _ => format!("+1 {area} 555 0{line}"),
    }
}
