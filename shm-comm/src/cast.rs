//! Messages through the casting crates users already have: `bytemuck` and
//! `zerocopy`.
//!
//! Every `#[derive(ShmMessage)]` type implements `bytemuck::Zeroable` and
//! `bytemuck::Pod` itself, so `bytemuck::cast_slice::<Pose, u8>` and back just
//! work (messages must be `Copy` for that).
//!
//! zerocopy's traits are different: zerocopy supports implementing them only
//! with its own derive, which a derive of another crate cannot put on the
//! user's struct, and their hidden items (`KnownLayout`'s layout, for one) may
//! change in any release. So a message reaches zerocopy through [`Zc<T>`], a
//! transparent wrapper whose traits *are* derived by zerocopy: `Zc<T>` is
//! `FromBytes`, `IntoBytes`, `KnownLayout` and `Immutable`, and dereferences
//! to the `T` it holds.
//!
//! ```
//! use shm_comm::{ShmMessage, Zc};
//! use shm_comm::zerocopy::{FromBytes, IntoBytes};
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Odometry {
//!     stamp_ns: u64,
//!     distance_m: f64,
//! }
//!
//! let odo = Odometry { stamp_ns: 7, distance_m: 1.5 };
//! let bytes = Zc::from_ref(&odo).as_bytes();
//! assert_eq!(bytes.len(), 16);
//! let back = Zc::<Odometry>::ref_from_bytes(bytes).unwrap();
//! assert_eq!(**back, odo);
//! ```

use std::marker::PhantomData;

use crate::message::ShmMessage;

/// The byte representation of a message, for [`Zc<T>`]: implemented by
/// `#[derive(ShmMessage)]`, not by hand.
///
/// # Safety
/// `Bytes` has exactly the size and the alignment of `Self` (the derive makes
/// rustc prove both).
pub unsafe trait ZcRepr: ShmMessage {
    /// Unsigned integers as wide as `Self`'s alignment, as many as fill `Self`.
    type Bytes: zerocopy::FromBytes
        + zerocopy::IntoBytes
        + zerocopy::KnownLayout
        + zerocopy::Immutable
        + Copy;
}

/// A message `T` seen through zerocopy's traits: same size, alignment and
/// bytes as `T` (`repr(transparent)`), and `Deref<Target = T>`.
///
/// Read a message from bytes with `Zc::<T>::ref_from_bytes(bytes)` (or
/// `<[Zc<T>]>::ref_from_bytes` for several, then [`Zc::slice_as_inner`]);
/// get the bytes of one with `Zc::from_ref(&msg).as_bytes()`.
#[derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable)]
#[repr(transparent)]
pub struct Zc<T: ZcRepr> {
    /// Invariant: valid as a `T` (every initialized byte pattern is, by the
    /// `ShmType` contract); its size and alignment are `T`'s (`ZcRepr`).
    bytes: T::Bytes,
    _message: PhantomData<T>,
}

impl<T: ZcRepr + Copy> Zc<T> {
    /// Wraps `msg`.
    pub fn new(msg: T) -> Zc<T> {
        // SAFETY: `T::Bytes` has the size of `T` (`ZcRepr`), so the two can be
        // transmuted; `T` has no padding, so every byte of `msg` is initialized,
        // and `T::Bytes` (unsigned integers) accepts any initialized bytes.
        // (`T: Copy`, so nothing is dropped twice.)
        let bytes = unsafe { std::mem::transmute_copy::<T, T::Bytes>(&msg) };
        Zc {
            bytes,
            _message: PhantomData,
        }
    }

    /// The message.
    pub fn into_inner(self) -> T {
        *self
    }
}

impl<T: ZcRepr> Zc<T> {
    /// `msg` as a `Zc<T>`, in place.
    pub fn from_ref(msg: &T) -> &Zc<T> {
        // SAFETY: `Zc<T>` is `repr(transparent)` over `T::Bytes` (plus a
        // zero-sized marker), which has `T`'s size and alignment (`ZcRepr`), so
        // the pointer is aligned and in bounds. `T` has no padding and no
        // interior mutability (`ShmType`), so all the bytes behind the shared
        // reference are initialized and only read, and any initialized bytes
        // are a valid `T::Bytes`.
        unsafe { &*(msg as *const T).cast::<Zc<T>>() }
    }

    /// `msg` as a `Zc<T>`, in place and writable.
    pub fn from_mut(msg: &mut T) -> &mut Zc<T> {
        // SAFETY: as in `from_ref`; in addition, whatever bytes are written
        // through the `Zc<T>` are a valid `T`, which accepts every bit pattern
        // (`ShmType`).
        unsafe { &mut *(msg as *mut T).cast::<Zc<T>>() }
    }

    /// `msgs` as `Zc<T>`s, in place.
    pub fn slice_from(msgs: &[T]) -> &[Zc<T>] {
        // SAFETY: as in `from_ref`, element by element; `Zc<T>` and `T` have
        // the same size, so the slice covers the same bytes.
        unsafe { std::slice::from_raw_parts(msgs.as_ptr().cast::<Zc<T>>(), msgs.len()) }
    }

    /// `msgs` as `T`s, in place.
    pub fn slice_as_inner(msgs: &[Zc<T>]) -> &[T] {
        // SAFETY: as in `Deref::deref`, element by element; same size, so the
        // slice covers the same bytes.
        unsafe { std::slice::from_raw_parts(msgs.as_ptr().cast::<T>(), msgs.len()) }
    }
}

impl<T: ZcRepr> std::ops::Deref for Zc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `T::Bytes` has `T`'s size and alignment (`ZcRepr`), and its
        // bytes are initialized (it is made of integers); `T` accepts every
        // bit pattern and has no interior mutability (`ShmType`), so the bytes
        // are a valid `T` that the shared reference only reads.
        unsafe { &*(self as *const Zc<T>).cast::<T>() }
    }
}

impl<T: ZcRepr> std::ops::DerefMut for Zc<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; in addition, any `T` written through the
        // reference has no padding (`ShmType`), so the bytes stay initialized,
        // as `T::Bytes` needs.
        unsafe { &mut *(self as *mut Zc<T>).cast::<T>() }
    }
}

impl<T: ZcRepr> Clone for Zc<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ZcRepr> Copy for Zc<T> {}

impl<T: ZcRepr + std::fmt::Debug> std::fmt::Debug for Zc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ZcRepr + Copy> From<T> for Zc<T> {
    fn from(msg: T) -> Zc<T> {
        Zc::new(msg)
    }
}

/// Not public API: the unsigned integer type as wide as an alignment, for the
/// `ZcRepr::Bytes` that `#[derive(ShmMessage)]` writes.
#[doc(hidden)]
pub trait AlignUnit {
    type Unit: zerocopy::FromBytes
        + zerocopy::IntoBytes
        + zerocopy::KnownLayout
        + zerocopy::Immutable
        + Copy;
}

/// Not public API: `align_of::<T>()`, or 8 if it is larger (then the
/// derive's alignment proof fails the build).
#[doc(hidden)]
pub const fn zc_align<T>() -> usize {
    let align = std::mem::align_of::<T>();
    if align > 8 {
        8
    } else {
        align
    }
}

/// Not public API: see [`AlignUnit`].
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct Align<const N: usize>;

impl AlignUnit for Align<1> {
    type Unit = u8;
}
impl AlignUnit for Align<2> {
    type Unit = u16;
}
impl AlignUnit for Align<4> {
    type Unit = u32;
}
impl AlignUnit for Align<8> {
    type Unit = u64;
}
