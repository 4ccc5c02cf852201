//! Expansion snapshots: the code generated for each combination of attributes.
