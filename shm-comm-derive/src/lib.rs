//! `#[derive(ShmMessage)]` for [`shm_comm`](https://docs.rs/shm-comm).
//!
//! The derive turns a plain `#[repr(C)]` struct into a shared-memory message: it
//! implements `ShmType` and `ShmMessage` (and bytemuck's `Zeroable` and `Pod`,
//! and `ZcRepr`, through which `shm_comm::Zc<T>` gives zerocopy's traits),
//! building the type's layout descriptor
//! from what rustc reports (`size_of`, `align_of`, `offset_of!`), and makes rustc
//! prove at compile time that the struct has no hidden padding.
//!
//! Use it through the re-export `shm_comm::ShmMessage`; the rules are listed on
//! the [derive macro](macro@ShmMessage).
//!
//! The crate is organised like `serde_derive`:
//! - `ast`: the input parsed into a typed model (struct name, named fields);
//! - `attr`: `#[repr(..)]` and `#[shm(..)]` attributes;
//! - `check`: the field types rejected from their syntax, with a hint each;
//! - `expand`: the generated code (the impls and the compile-time layout proofs).
//!
//! Every mistake in the input is reported as a spanned compile error, all of them
//! at once; the derive never panics.

mod ast;
mod attr;
mod check;
mod expand;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `shm_comm::ShmType` and `shm_comm::ShmMessage` for a struct, and
/// `bytemuck::Zeroable`, `bytemuck::Pod` and `shm_comm::cast::ZcRepr` (the
/// zerocopy traits of `shm_comm::Zc<T>`), all resting on the same checks.
///
/// ```ignore
/// use shm_comm::{FixedString, Flag, ShmMessage};
///
/// #[derive(ShmMessage, Clone, Copy)]
/// #[repr(C)]
/// pub struct Imu {
///     pub stamp_ns: u64,
///     pub accel: [f64; 3],
///     pub covariance: [[f32; 3]; 3],
///     pub frame: FixedString<32>,
///     pub valid: Flag,
///     pub _pad: [u8; 3],
/// }
/// ```
///
/// # Rules
/// Each rule is checked at compile time, with an error on the offending tokens;
/// all the errors of a struct are reported together.
///
/// - The type is a **struct with named fields** (field names are part of the
///   layout descriptor and of its hash) and at least one field. Enums and unions
///   are refused: a peer process could write an invalid discriminant.
/// - It is **`#[repr(C)]` and nothing else**: `packed`, `align(N)`,
///   `transparent` and the integer representations are refused.
/// - It has **no generic parameters** (type, lifetime or const) and no `where`
///   clause: a message has one layout, fixed when it is compiled.
/// - It has **no hidden padding**: every byte belongs to a field. rustc proves
///   this for each field and for the end of the struct; when it fails, the
///   error names the field and the number of padding bytes, to be replaced by an
///   explicit field such as `_pad: [u8; 4]`.
/// - Its alignment is at most 8 bytes.
/// - It is **`Copy`** (derive `Clone, Copy`): `bytemuck::Pod` requires it.
/// - Every field type is a **fixed-layout shared-memory type** (`ShmType`).
///
/// # Accepted field types
/// - `u8`, `u16`, `u32`, `u64`, `i8`, `i16`, `i32`, `i64`, `f32`, `f64`;
/// - `shm_comm::Flag` (a boolean stored as a byte);
/// - arrays `[T; N]` of accepted types, nested to any depth (`[[f32; 3]; 3]`);
/// - `shm_comm::FixedString<N>` and `shm_comm::FixedVec<T, N>`;
/// - other structs that derive `ShmMessage`;
/// - with `#[shm(pod)]`, any `bytemuck::Pod` type (see below).
///
/// Any other type is refused. The following are refused from their syntax,
/// with a hint at what to use instead: references, raw pointers, function
/// pointers, tuples, slices, `str`, trait objects, `bool` (use `Flag`), `char`
/// (use `u32` or `FixedString<N>`), `usize`/`isize` (use `u64`/`i64`),
/// `u128`/`i128`, `String`, `Vec`, `Box`, `Rc`, `Arc`, the standard
/// collections, `Option` and `PhantomData`. Other types are checked by the
/// `ShmType` trait bound, whose error points at the field's type.
///
/// # Attributes
/// - `#[shm(crate = "path")]` on the struct: the path of the `shm_comm` crate
///   if it is not `::shm_comm` (renamed dependency, re-export from another
///   crate).
/// - `#[shm(pod)]` on a field: its type is a foreign `bytemuck::Pod` type
///   (`glam::Vec3` or a nalgebra vector with their crate's `bytemuck`
///   feature), described in the layout as `Kind::Opaque { size, align }`:
///   other languages see its bytes, not its fields.
///
/// Doc comments on the struct and its fields are allowed and ignored.
#[proc_macro_derive(ShmMessage, attributes(shm))]
pub fn derive_shm_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
