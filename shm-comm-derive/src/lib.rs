//! `#[derive(ShmMessage)]` for `shm_comm` (placeholder until the derive lands).
use proc_macro::TokenStream;

/// Derives `shm_comm::ShmMessage`.
#[proc_macro_derive(ShmMessage, attributes(shm))]
pub fn derive_shm_message(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
