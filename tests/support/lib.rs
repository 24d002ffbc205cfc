//! Helpers shared by the cross-crate tests and the examples.
