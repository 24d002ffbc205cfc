//! Field types refused from their syntax alone, each with a hint.
//!
//! These checks only make the common mistakes readable: the `ShmType` bound on
//! every field is what makes the derive sound. A type not recognised here
//! (a path to a user type, a type alias, a macro) is left to that bound.
//! A `#[shm(pod)]` field is left to its `bytemuck::Pod` bound alone.

use syn::{Error, Path, Type};

use crate::ast::{Errors, Message};

/// Checks every field type of `message`.
pub fn check(message: &Message<'_>, errors: &mut Errors) {
    for field in message.fields.iter().filter(|f| !f.pod) {
        field_type(field.ty, errors);
    }
}

fn field_type(ty: &Type, errors: &mut Errors) {
    let why = match ty {
        // `[T; N]` is fine if `T` is.
        Type::Array(array) => return field_type(&array.elem, errors),
        Type::Paren(inner) => return field_type(&inner.elem, errors),
        Type::Group(inner) => return field_type(&inner.elem, errors),
        Type::Path(path) if path.qself.is_none() => match path_type(&path.path) {
            Some(why) => return errors.push(Error::new_spanned(ty, why)),
            None => return,
        },
        Type::Reference(_) => {
            "references cannot be shared between processes: the address means nothing in \
             another process; store the value itself (or a `FixedString<N>` / `FixedVec<T, N>`)"
        }
        Type::Ptr(_) => {
            "raw pointers cannot be shared between processes: the address means nothing in \
             another process; store the value itself, or an index or offset"
        }
        Type::BareFn(_) => {
            "function pointers cannot be shared between processes: the address means nothing \
             in another process; store an integer code and match on it"
        }
        Type::Tuple(tuple) if tuple.elems.is_empty() => {
            "`()` holds no data: remove the field (use an explicit `_pad: [u8; N]` field for padding)"
        }
        Type::Tuple(_) => {
            "tuples have no guaranteed layout: use a `#[repr(C)]` struct that derives \
             `ShmMessage`, or an array `[T; N]`"
        }
        Type::Slice(_) => {
            "slices have no fixed size: use an array `[T; N]` or `shm_comm::FixedVec<T, N>`"
        }
        Type::TraitObject(_) | Type::ImplTrait(_) => {
            "trait objects have no fixed layout and point to code of this process: \
             use a concrete type"
        }
        Type::Never(_) => "`!` has no values: remove the field",
        _ => return,
    };
    errors.push(Error::new_spanned(ty, why));
}

/// Whether `ty` is, from its syntax alone, a dynamically sized type (which a
/// struct may have as its last field).
pub fn surely_unsized(ty: &Type) -> bool {
    match ty {
        Type::Slice(_) | Type::TraitObject(_) => true,
        Type::Paren(inner) => surely_unsized(&inner.elem),
        Type::Group(inner) => surely_unsized(&inner.elem),
        Type::Path(path) => path.qself.is_none() && path.path.is_ident("str"),
        _ => false,
    }
}

/// The reason to refuse the type at `path`, if it is a well-known one.
fn path_type(path: &Path) -> Option<String> {
    let name = path.segments.last()?.ident.to_string();
    // Only `name` alone or `std::..::name` is surely the standard type.
    let first = path.segments.first()?.ident.to_string();
    let is_std = (path.segments.len() == 1 && path.leading_colon.is_none())
        || matches!(first.as_str(), "std" | "core" | "alloc");
    if !is_std {
        return None;
    }
    let heap = format!("`{name}` points to heap memory that other processes cannot see");
    Some(match name.as_str() {
        "bool" => "`bool` cannot be shared: a peer process can write any byte, and a `bool` that \
                   is not 0 or 1 is undefined behavior; use `shm_comm::Flag`"
            .into(),
        "char" => "`char` cannot be shared: a peer process can write any `u32`, and not every \
                   `u32` is a valid `char`; use `u32` for a code point or \
                   `shm_comm::FixedString<N>` for text"
            .into(),
        "usize" | "isize" => format!(
            "`{name}` has a size that depends on the target (4 or 8 bytes), so processes built \
             for different targets would disagree on the layout; use `{}64`",
            &name[..1]
        ),
        "u128" | "i128" => "128-bit integers are not supported: their alignment differs \
                            between compilers and targets; use `[u64; 2]`"
            .into(),
        "str" => "`str` has no fixed size: use `shm_comm::FixedString<N>` (at most N bytes, \
                  stored inline)"
            .into(),
        "String" | "CString" | "OsString" | "PathBuf" => {
            format!("{heap}: use `shm_comm::FixedString<N>` (at most N bytes, stored inline)")
        }
        "Vec" | "VecDeque" | "BinaryHeap" | "LinkedList" | "HashSet" | "BTreeSet" => format!(
            "{heap}: use `shm_comm::FixedVec<T, N>` (at most N items, stored inline) or an \
             array `[T; N]`"
        ),
        "HashMap" | "BTreeMap" => format!(
            "{heap}: use `shm_comm::FixedVec<Entry, N>` of a key/value struct that derives \
             `ShmMessage`"
        ),
        "Box" | "Rc" | "Arc" => format!("{heap}: store the value itself"),
        "Option" => "`Option` is not fixed-layout shared memory: a peer could write an invalid \
                     discriminant; store the value with a `shm_comm::Flag` next to it, or use \
                     `shm_comm::FixedVec<T, 1>`"
            .into(),
        "PhantomData" => "`PhantomData` holds no data, and a message cannot be generic: remove \
                          the field"
            .into(),
        _ => return None,
    })
}
