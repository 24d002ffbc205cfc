//! The attributes the derive reads: `#[repr(..)]` and `#[shm(..)]`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{parenthesized, parse_quote, token, Attribute, DeriveInput, Error, LitStr, Path, Result};

use crate::ast::Errors;

/// The path of the runtime crate: `::shm_comm`, or what `#[shm(crate = "..")]` says.
pub fn crate_path(attrs: &[Attribute]) -> Result<Path> {
    let mut errors = Errors::default();
    let mut krate = None;
    for attr in shm_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("crate") {
                return Err(meta.error(
                    "unknown `shm` attribute: the only one on the struct is \
                     `#[shm(crate = \"path::to::shm_comm\")]` (`#[shm(pod)]` goes on a field)",
                ));
            }
            let lit: LitStr = meta.value()?.parse()?;
            let path = lit.parse::<Path>().map_err(|_| {
                Error::new(
                    lit.span(),
                    "expected the path of the `shm_comm` crate, such as `\"shm_comm\"` or `\"::my_crate::shm\"`",
                )
            })?;
            if krate.replace(path).is_some() {
                return Err(Error::new(lit.span(), "duplicate `crate` in `#[shm(..)]`"));
            }
            Ok(())
        });
        errors.ok(parsed);
    }
    errors.finish(Some(krate.unwrap_or_else(default_crate_path)))
}

/// `::shm_comm`.
pub fn default_crate_path() -> Path {
    parse_quote!(::shm_comm)
}

/// Reads the field attributes: `#[shm(pod)]` marks a field whose type is a
/// foreign `bytemuck::Pod` type, stored as an opaque block of bytes.
pub fn field(field: &syn::Field, errors: &mut Errors) -> bool {
    let mut pod = false;
    for attr in shm_attrs(&field.attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("pod") {
                return Err(meta.error(
                    "unknown `shm` field attribute: the only one is `#[shm(pod)]` (a foreign \
                     `bytemuck::Pod` type, stored as opaque bytes)",
                ));
            }
            if pod {
                return Err(meta.error("duplicate `pod` in `#[shm(..)]`"));
            }
            pod = true;
            Ok(())
        });
        errors.ok(parsed);
    }
    pod
}

fn shm_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("shm"))
}

/// Requires the representation to be exactly `#[repr(C)]`.
///
/// `repr(C)` is the only representation whose layout rustc documents (fields
/// in declaration order, each at the next offset that fits its alignment);
/// every other one is refused with the reason:
/// - `packed` makes fields unaligned (references to them are undefined behavior);
/// - `align(N)` adds trailing padding and may raise the alignment above 8;
/// - `transparent`, `Rust` and integer representations are not the C layout.
pub fn repr_c(input: &DeriveInput, errors: &mut Errors) {
    let mut found_c = false;
    let mut refused = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let parsed = attr.parse_nested_meta(|meta| {
            // Skip the arguments of `packed(N)` / `align(N)`: they are refused anyway.
            if meta.input.peek(token::Paren) {
                let args;
                parenthesized!(args in meta.input);
                args.parse::<TokenStream>()?;
            }
            let name = meta
                .path
                .get_ident()
                .map(|i| i.unraw().to_string())
                .unwrap_or_default();
            let why = match name.as_str() {
                "C" => {
                    found_c = true;
                    return Ok(());
                }
                "packed" => {
                    "`#[repr(packed)]` is not supported: packed fields can be unaligned, and \
                     references to them are undefined behavior; use `#[repr(C)]` and add \
                     explicit padding fields (e.g. `_pad: [u8; 3]`) where rustc asks for them"
                }
                "align" => {
                    "`#[repr(align(N))]` is not supported: it adds padding bytes that no field \
                     describes; use `#[repr(C)]` and an explicit `_pad: [u8; N]` field"
                }
                "transparent" => {
                    "`#[repr(transparent)]` is not supported: a shared-memory message is \
                     `#[repr(C)]`"
                }
                _ => "",
            };
            let why = if why.is_empty() {
                format!(
                    "`#[repr({})]` is not supported: a shared-memory message is `#[repr(C)]` \
                     and nothing else",
                    meta.path.to_token_stream()
                )
            } else {
                why.to_owned()
            };
            refused = true;
            errors.push(Error::new_spanned(&meta.path, why));
            Ok(())
        });
        if let Err(e) = parsed {
            refused = true;
            errors.push(e);
        }
    }
    if !found_c && !refused {
        let name = input.ident.unraw();
        errors.push(Error::new(
            input.ident.span(),
            format!(
                "`{name}` needs `#[repr(C)]`: `#[derive(ShmMessage)]` relies on the C layout \
                 (fields in declaration order), which the default Rust layout does not promise"
            ),
        ));
    }
}
