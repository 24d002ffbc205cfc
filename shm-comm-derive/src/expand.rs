//! The generated code: the impls (`ShmType`, `ShmMessage`, bytemuck's
//! `Zeroable` and `Pod`, `ZcRepr` for zerocopy) and the compile-time layout
//! proofs they rest on.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Ident};

use crate::ast::{Errors, Message};
use crate::{attr, check};

/// Expands `#[derive(ShmMessage)]` on `input`.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let message = Message::from_syn(input, &mut errors);
    if let Some(message) = &message {
        check::check(message, &mut errors);
    }
    match errors.finish(message) {
        Ok(message) => impl_message(&message),
        Err(errors) => fallback(input, errors),
    }
}

fn impl_message(message: &Message<'_>) -> TokenStream {
    let ty = message.ident;
    let krate = &message.krate;
    let private = quote!(#krate::__private);
    let name = &message.name;
    let fields = message.fields.iter().map(|field| {
        let (ident, field_name, field_ty) = (field.ident, &field.name, field.ty);
        // The `ShmType` bound of each field (`PodField` for a `#[shm(pod)]`
        // one) is checked here: the span puts its error (the trait's
        // `on_unimplemented` message) on the field's type.
        let type_desc = if field.pod {
            quote_spanned! {field_ty.span()=>
                #private::opaque::<#field_ty>()
            }
        } else {
            quote_spanned! {field_ty.span()=>
                <#field_ty as #private::ShmType>::type_desc()
            }
        };
        quote! {
            #private::FieldDescriptor::new(
                #field_name,
                #private::offset_of!(Self, #ident),
                #type_desc,
            )
        }
    });
    let padding = no_padding_proofs(message, &private);
    let align = align_proof(message, &private);
    // Evaluated at compile time: the fields' own checks (`FixedString<N>`
    // needs `N % 4 == 0`), which the `ShmType` contract of a field relies on.
    let field_checks = message.fields.iter().filter(|f| !f.pod).map(|f| {
        let field_ty = f.ty;
        quote_spanned! {field_ty.span()=>
            let () = <#field_ty as #private::ShmType>::FIELD_CHECK;
        }
    });
    // The error of a message that is not `Copy` (which `Pod` requires) goes
    // on its name.
    let pod_ty = quote_spanned!(ty.span()=> #ty);

    // SAFETY (of the two `unsafe impl`s below; a comment in a `quote!` would not
    // reach the generated code, so it lives here):
    // - the struct is `#[repr(C)]` and nothing else (`attr::repr_c` refuses
    //   everything else), so its layout is the C one, fields in declaration order;
    // - `padding` makes rustc prove that every field starts where the previous one
    //   ends and that the last one ends at `size_of::<Self>()`: there is no padding,
    //   so every byte is initialized;
    // - every field type is `ShmType` (the bound in `type_desc` below), hence
    //   padding-free, valid for every bit pattern and aligned to at most 8; a
    //   struct of such fields with no padding is valid for every bit pattern too;
    // - `align` makes rustc prove `align_of::<Self>() <= 8`;
    // - `field_checks` makes rustc evaluate every field type's own checks, so
    //   that the fields' `ShmType` contracts hold even if `layout` is never
    //   called;
    // - a `#[shm(pod)]` field is `bytemuck::Pod` (the `PodField` bound in its
    //   `type_desc`): padding-free, valid for every bit pattern, without
    //   interior mutability; its alignment is at most the struct's, so at most 8;
    // - the struct has no generics, so it is `'static`;
    // - `layout` describes exactly this layout: its name, size, alignment, and for
    //   each field its name, its offset from `offset_of!` and its `ShmType`
    //   descriptor (whose size is the field's `size_of`), in declaration order.
    //   `type_desc` wraps that same descriptor in a `Kind::Struct`.
    // bytemuck's `Zeroable` and `Pod` ask for exactly that: inhabited, every
    // bit pattern valid (zeros included), no padding, `repr(C)`, no pointers
    // nor interior mutability; and `Pod` is `Copy + 'static` (checked by rustc).
    // `ZcRepr`: `Bytes` is `size / align` unsigned integers of `align` bytes,
    // and the `assert!` below proves its size and alignment are the struct's.
    quote! {
        const _: () = {
            #padding
            #align
            const _: () = { #(#field_checks)* };

            #[automatically_derived]
            unsafe impl #private::bytemuck::Zeroable for #ty {}

            #[automatically_derived]
            unsafe impl #private::bytemuck::Pod for #pod_ty {}

            // The alignment is clamped to 8 so that an alignment over 8 is one
            // error (`align`'s), not two; the build fails then anyway.
            #[automatically_derived]
            unsafe impl #private::ZcRepr for #pod_ty {
                type Bytes = [
                    <#private::Align<{ #private::zc_align::<#ty>() }> as #private::AlignUnit>::Unit;
                    #private::size_of::<#ty>() / #private::zc_align::<#ty>()
                ];
            }
            const _: () = ::core::assert!(
                #private::align_of::<#ty>() > 8
                    || #private::size_of::<<#ty as #private::ZcRepr>::Bytes>()
                        == #private::size_of::<#ty>()
                    && #private::align_of::<<#ty as #private::ZcRepr>::Bytes>()
                        == #private::align_of::<#ty>(),
                "internal error in `#[derive(ShmMessage)]`: `ZcRepr::Bytes` does not match the message",
            );

            #[automatically_derived]
            unsafe impl #private::ShmType for #ty {
                fn type_desc() -> #private::TypeDesc {
                    #private::TypeDesc::of(#private::Kind::Struct(
                        <Self as #private::ShmMessage>::layout().clone(),
                    ))
                }
            }

            #[automatically_derived]
            unsafe impl #private::ShmMessage for #ty {
                fn layout() -> &'static #private::LayoutDescriptor {
                    // No `let` here: a binding would clash with a user constant
                    // of the same name (used in an array length of a field type).
                    static __LAYOUT: #private::OnceLock<#private::LayoutDescriptor> =
                        #private::OnceLock::new();
                    __LAYOUT.get_or_init(|| {
                        #private::LayoutDescriptor::new(
                            #name,
                            #private::size_of::<Self>(),
                            #private::align_of::<Self>(),
                            <[#private::FieldDescriptor]>::to_vec(&[#(#fields),*]),
                        )
                    })
                }
            }
        };
    }
}

/// Compile-time proofs that the struct has no padding: one before each field
/// after the first (the first is at offset 0 under `repr(C)`), one at the end.
fn no_padding_proofs(message: &Message<'_>, private: &TokenStream) -> TokenStream {
    let ty = message.ident;
    let name = &message.name;
    let why = "every byte of a shared-memory message must belong to a field (padding is \
               uninitialized memory, copied to other processes); add the field, or order \
               the fields from the largest alignment to the smallest";
    let mut proofs = Vec::new();
    for pair in message.fields.windows(2) {
        let (prev, field) = (&pair[0], &pair[1]);
        let (prev_ident, prev_ty, ident) = (prev.ident, prev.ty, field.ident);
        let bytes = quote! {
            #private::offset_of!(#ty, #ident)
                - (#private::offset_of!(#ty, #prev_ident) + #private::size_of::<#prev_ty>())
        };
        proofs.push(zero_bytes_proof(
            ty,
            ident.span(),
            &bytes,
            &format!(
                "`{name}` has {{BYTES}} bytes of hidden padding before field `{}` (after `{}`)",
                field.name, prev.name
            ),
            "add a field `_pad: [u8; {BYTES}]` before this one",
            why,
        ));
    }
    if let Some(last) = message.fields.last() {
        let (last_ident, last_ty) = (last.ident, last.ty);
        let bytes = quote! {
            #private::size_of::<#ty>()
                - (#private::offset_of!(#ty, #last_ident) + #private::size_of::<#last_ty>())
        };
        proofs.push(zero_bytes_proof(
            ty,
            last_ident.span(),
            &bytes,
            &format!(
                "`{name}` has {{BYTES}} bytes of hidden padding at the end, after its last field `{}`",
                last.name
            ),
            "add a field `_pad: [u8; {BYTES}]` after this one",
            why,
        ));
    }
    quote!(#(#proofs)*)
}

/// A proof that the constant expression `bytes` is 0, failing with `message`
/// (where `{BYTES}` is replaced by the value) at `span`.
///
/// A failed `assert!` in a constant cannot show a computed number on stable
/// Rust, but a failed trait bound can: `T: NoHiddenPadding<BYTES>` holds only
/// for `BYTES = 0`, and `#[diagnostic::on_unimplemented]` formats the trait's
/// const parameter into the message. rustc puts the error on the self type of
/// `<T as NoHiddenPadding<..>>`, so that type is written with the field's span.
fn zero_bytes_proof(
    ty: &Ident,
    span: Span,
    bytes: &TokenStream,
    message: &str,
    label: &str,
    note: &str,
) -> TokenStream {
    let mut ty_here = ty.clone();
    ty_here.set_span(span);
    quote! {
        const _: () = {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait NoHiddenPadding<const BYTES: usize> {
                fn proven() {}
            }
            impl NoHiddenPadding<0> for #ty {}
            fn _proof() {
                <#ty_here as NoHiddenPadding<{ #bytes }>>::proven();
            }
        };
    }
}

/// A compile-time proof that `align_of::<T>() <= 8`, the limit of `ShmType`
/// (same technique as [`zero_bytes_proof`]).
fn align_proof(message: &Message<'_>, private: &TokenStream) -> TokenStream {
    let ty = message.ident;
    let msg = format!(
        "`{}` has an alignment of {{ALIGN}} bytes: a shared-memory message allows at most 8",
        message.name
    );
    quote! {
        const _: () = {
            #[diagnostic::on_unimplemented(
                message = #msg,
                label = "aligned to {ALIGN} bytes",
                note = "a struct is aligned like its most aligned field; `ShmType`s are aligned to at most 8 bytes"
            )]
            trait AlignAtMost8<const ALIGN: usize> {
                fn proven() {}
            }
            impl AlignAtMost8<1> for #ty {}
            impl AlignAtMost8<2> for #ty {}
            impl AlignAtMost8<4> for #ty {}
            impl AlignAtMost8<8> for #ty {}
            fn _proof() {
                <#ty as AlignAtMost8<{ #private::align_of::<#ty>() }>>::proven();
            }
        };
    }
}

/// The errors, and, like `thiserror`, the impls anyway when they can be written,
/// so that one mistake gives one error: code that uses the type as a message
/// or a field still compiles.
fn fallback(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    // Where the impls themselves would not compile, the errors alone.
    let generic = !input.generics.params.is_empty() || input.generics.where_clause.is_some();
    let unsized_ = match &input.data {
        Data::Struct(data) => data.fields.iter().any(|f| check::surely_unsized(&f.ty)),
        Data::Enum(_) | Data::Union(_) => false,
    };
    let krate = match attr::crate_path(&input.attrs) {
        Ok(krate) if !generic && !unsized_ => krate,
        _ => return errors,
    };
    let ty = &input.ident;
    let private = quote!(#krate::__private);
    // SAFETY (of the `unsafe impl`s below): they are never part of a program,
    // since the `compile_error!`s emitted with them fail the build.
    quote! {
        #errors
        const _: () = {
            #[automatically_derived]
            unsafe impl #private::ShmType for #ty {
                fn type_desc() -> #private::TypeDesc {
                    loop {}
                }
            }
            #[automatically_derived]
            unsafe impl #private::ShmMessage for #ty {
                fn layout() -> &'static #private::LayoutDescriptor {
                    loop {}
                }
            }
        };
    }
}
