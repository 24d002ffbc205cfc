//! The derive input, parsed into the model the other stages work on.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Error, Fields, Ident, Path, Result, Type};

use crate::attr;

/// A struct that `#[derive(ShmMessage)]` was applied to.
pub struct Message<'a> {
    /// The struct's identifier, as written (possibly `r#raw`).
    pub ident: &'a Ident,
    /// The struct's name without `r#`, as stored in the layout descriptor.
    pub name: String,
    /// The path of the runtime crate (`::shm_comm` unless `#[shm(crate = "..")]`).
    pub krate: Path,
    /// The fields, in declaration order (= offset order under `repr(C)`).
    pub fields: Vec<Field<'a>>,
}

/// A named field.
pub struct Field<'a> {
    /// The field's identifier, as written (possibly `r#raw`).
    pub ident: &'a Ident,
    /// The field's name without `r#`, as stored in the layout descriptor.
    pub name: String,
    /// The field's type.
    pub ty: &'a Type,
    /// `#[shm(pod)]`: a foreign `bytemuck::Pod` type, described as opaque bytes.
    pub pod: bool,
}

impl<'a> Message<'a> {
    /// Parses `input`, pushing every problem into `errors`.
    ///
    /// Returns `None` only if the input is not a struct with named fields;
    /// otherwise a model is returned even when `errors` is not empty, so that
    /// the later stages can report their problems too.
    pub fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        // An enum or a tuple struct: one error for that, nothing else (its
        // `repr` or generics are not the problem to fix first).
        let fields = errors.ok(named_fields(input))?;
        attr::repr_c(input, errors);
        // On an error, go on with the default path so that later stages still run.
        let krate = errors
            .ok(attr::crate_path(&input.attrs))
            .unwrap_or_else(attr::default_crate_path);
        if let Some(e) = generics_error(input) {
            errors.push(e);
        }
        let fields = fields
            .iter()
            .map(|field| {
                let pod = attr::field(field, errors);
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    name: ident.unraw().to_string(),
                    ty: &field.ty,
                    pod,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Message {
            ident: &input.ident,
            name: input.ident.unraw().to_string(),
            krate,
            fields,
        })
    }
}

fn named_fields(
    input: &DeriveInput,
) -> Result<&syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    let name = input.ident.unraw();
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) if !fields.named.is_empty() => Ok(&fields.named),
            Fields::Named(fields) => Err(Error::new(
                fields.brace_token.span.join(),
                format!(
                    "`{name}` has no fields: a shared-memory message needs at least one \
                     (a `u8` or a `Flag` will do for a signal without payload)"
                ),
            )),
            Fields::Unnamed(fields) => Err(Error::new_spanned(
                fields,
                "`#[derive(ShmMessage)]` needs named fields: field names are part of the \
                 layout descriptor; write `struct S { x: f64, .. }`",
            )),
            Fields::Unit => Err(Error::new(
                input.ident.span(),
                format!(
                    "`{name}` has no fields: a shared-memory message needs at least one \
                     (a `u8` or a `Flag` will do for a signal without payload)"
                ),
            )),
        },
        Data::Enum(data) => Err(Error::new(
            data.enum_token.span,
            "`#[derive(ShmMessage)]` does not support enums: a peer process could write \
             an invalid discriminant; use an integer field (e.g. `u8`) with named constants",
        )),
        Data::Union(data) => Err(Error::new(
            data.union_token.span,
            "`#[derive(ShmMessage)]` does not support unions: the layout descriptor could \
             not say which variant a peer wrote; use a struct, or a byte array field",
        )),
    }
}

fn generics_error(input: &DeriveInput) -> Option<Error> {
    let generics = &input.generics;
    if !generics.params.is_empty() {
        return Some(Error::new_spanned(
            generics,
            "a shared-memory message cannot be generic: it needs one layout, fixed when it \
             is compiled (and lifetimes would mean references, which cannot be shared); \
             write a concrete struct for each instantiation",
        ));
    }
    generics.where_clause.as_ref().map(|clause| {
        Error::new_spanned(
            clause,
            "a shared-memory message cannot have a `where` clause",
        )
    })
}

/// All the errors found in the input, reported together.
#[derive(Default)]
pub struct Errors(Option<Error>);

impl Errors {
    /// Records `error`.
    pub fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub fn ok<T>(&mut self, result: Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `value` if no error was recorded, else all the errors.
    pub fn finish<T>(self, value: Option<T>) -> Result<T> {
        match (self.0, value) {
            (Some(errors), _) => Err(errors),
            (None, Some(value)) => Ok(value),
            // Not reachable: every `None` above comes with an error.
            (None, None) => Err(Error::new(
                Span::call_site(),
                "internal error in `#[derive(ShmMessage)]`: invalid input without an error",
            )),
        }
    }
}
