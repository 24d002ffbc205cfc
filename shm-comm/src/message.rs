//! The traits that make a type safe to put in shared memory, and the
//! fixed-capacity helpers ([`Flag`], [`FixedString`], [`FixedVec`]).
//!
//! A peer process can write any bytes into a slot, so every type here must be
//! valid for every bit pattern: that is why `bool`, `char` and enums are not
//! [`ShmType`]s, and [`Flag`] (a `u8`) stands in for `bool`.

use std::mem::MaybeUninit;

use crate::layout::{Kind, LayoutDescriptor, Scalar, TypeDesc};

/// A type with a fixed, fully described memory layout.
///
/// Implemented for the integer and float primitives, [`Flag`], arrays of
/// `ShmType`s, [`FixedString`], [`FixedVec`] and every `#[derive(ShmMessage)]` struct.
///
/// # Safety
/// An implementor guarantees that:
/// - it has no padding bytes, so all of its bytes are initialized;
/// - every bit pattern of `size_of::<Self>()` bytes is a valid value (no `bool`,
///   `char`, enum, reference, pointer or niche);
/// - it has no interior mutability (no `Cell`, `UnsafeCell` or atomic): a
///   shared reference only reads;
/// - `align_of::<Self>() <= 8`;
/// - any condition the above depend on is checked when `FIELD_CHECK`
///   is evaluated (a type whose validity depends on its const parameters fails
///   to compile there when they are wrong);
/// - [`type_desc`](Self::type_desc) describes exactly its layout, and its `size`
///   equals `size_of::<Self>()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a field of a shared-memory message",
    label = "not a fixed-layout shared-memory type",
    note = "fields must be integers, floats, `shm_comm::Flag`, fixed arrays, `FixedString<N>`, `FixedVec<T, N>` or `#[derive(ShmMessage)]` structs; use `Flag` instead of `bool`"
)]
pub unsafe trait ShmType: Sized + 'static {
    /// Not public API: evaluated by `#[derive(ShmMessage)]` for every field
    /// type, so that a message compiles only if its fields' own compile-time
    /// checks pass (`FixedString<N>` needs `N % 4 == 0`), whether or not its
    /// layout is ever built.
    #[doc(hidden)]
    const FIELD_CHECK: () = ();

    /// The layout of `Self`.
    fn type_desc() -> TypeDesc;

    /// The all-zero value, valid for every `ShmType` (every bit pattern is).
    fn zeroed() -> Self {
        // SAFETY: the trait's contract says every bit pattern, all zeros
        // included, is a valid `Self`.
        unsafe { std::mem::zeroed() }
    }
}

/// A message type: a `#[repr(C)]` struct whose layout is known at run time.
///
/// Derive it with `#[derive(ShmMessage)]`; do not implement it by hand.
///
/// # Safety
/// Same contract as [`ShmType`]; in addition [`layout`](Self::layout) returns
/// the descriptor of `Self` (what `type_desc` wraps as a [`Kind::Struct`]).
pub unsafe trait ShmMessage: ShmType {
    /// The layout descriptor (built once, then cached).
    fn layout() -> &'static LayoutDescriptor;

    /// The structural hash of [`layout`](Self::layout).
    fn layout_hash() -> u64 {
        Self::layout().hash()
    }
}

/// The bytes of a message.
pub(crate) fn as_bytes<T: ShmMessage>(msg: &T) -> &[u8] {
    // SAFETY: `T: ShmMessage` has no padding, so all its bytes are
    // initialized; the slice borrows `msg`.
    unsafe { std::slice::from_raw_parts((msg as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// Reads a `T` from `len` bytes written by `fill` (which gets the
/// `size_of::<T>()` uninitialized bytes of the result, initializes the
/// first `len` of them and returns `len`).
pub(crate) fn read_with<T: ShmMessage, E>(
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
    wrong_size: impl FnOnce(usize) -> E,
) -> Result<T, E> {
    let mut out = MaybeUninit::<T>::uninit();
    let size = std::mem::size_of::<T>();
    // SAFETY: the `size` bytes of `out`, as bytes that may be uninitialized
    // (`MaybeUninit<u8>` has no validity requirement), borrowed from `out`.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<u8>>(), size) };
    let len = fill(bytes)?;
    if len != size {
        return Err(wrong_size(len));
    }
    // SAFETY: `fill` wrote all size_of::<T>() bytes, and every bit pattern
    // is a valid `T` (ShmType contract).
    Ok(unsafe { out.assume_init() })
}

/// The largest message the by-value receive calls (`recv`, `try_recv`,
/// `recv_timeout`, ...) accept: 256 KiB. A value returned through a
/// `Result` may sit on the stack more than once, and a thread spawned by
/// `std::thread` has 2 MiB of it; a larger type fails to compile there, with
/// a message pointing to `recv_into` and `recv_boxed`, which write straight
/// into memory the caller owns.
///
/// ```compile_fail,E0080
/// # use shm_comm::{msgs::Image4K, pubsub::Subscriber};
/// # fn f(sub: &mut Subscriber<Image4K>) {
/// let frame = sub.recv(); // 24 MB by value: refused when built
/// # }
/// # f(&mut Subscriber::connect("camera/4k").unwrap());
/// ```
///
/// ```no_run
/// # use shm_comm::{msgs::Image4K, pubsub::Subscriber};
/// # fn f(sub: &mut Subscriber<Image4K>) -> Result<(), shm_comm::RecvError> {
/// let mut frame: Box<Image4K> = shm_comm::zeroed_box();
/// sub.recv_into(&mut frame)?; // written in place, in the box
/// let other: Box<Image4K> = sub.recv_boxed()?;
/// # Ok(()) }
/// ```
pub const MAX_BY_VALUE: usize = 256 * 1024;

/// Evaluated (at compile time) by every by-value receive of a `T`.
pub(crate) struct ByValue<T>(std::marker::PhantomData<T>);

impl<T> ByValue<T> {
    pub(crate) const CHECK: () = assert!(
        std::mem::size_of::<T>() <= MAX_BY_VALUE,
        "this message type is over 256 KiB (shm_comm::message::MAX_BY_VALUE): \
         receiving it by value could overflow a thread's stack; \
         use recv_into(&mut msg) or recv_boxed() instead"
    );
}

/// Reads a message of exactly `size_of::<T>()` bytes into `out` (see
/// [`read_with`]). On an error `out` holds unspecified, valid contents.
pub(crate) fn read_into<T: ShmMessage, E>(
    out: &mut T,
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
    wrong_size: impl FnOnce(usize) -> E,
) -> Result<(), E> {
    let size = std::mem::size_of::<T>();
    // SAFETY: the `size` bytes of `*out`, borrowed uniquely from `out`.
    // `fill` (our own receive paths) only writes initialized bytes copied
    // from a slot, and every bit pattern is a valid `T` (ShmType contract),
    // so `*out` stays a valid `T` whatever it writes, in full or in part.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut((out as *mut T).cast::<MaybeUninit<u8>>(), size) };
    let len = fill(bytes)?;
    if len != size {
        return Err(wrong_size(len));
    }
    Ok(())
}

/// A `T` of all zero bytes on the heap, built in place: the way to make a
/// large message (an `Image4K` is 24 MB) without putting it on the stack.
///
/// ```
/// # use shm_comm::msgs::Image4K;
/// let img: Box<Image4K> = shm_comm::zeroed_box();
/// assert_eq!(img.width, 0);
/// ```
pub fn zeroed_box<T: ShmType>() -> Box<T> {
    // No `T` is ever made on the stack here, not even in a branch not
    // taken: a debug build reserves stack for every local of a function.
    let layout = std::alloc::Layout::new::<T>();
    let ptr = if layout.size() == 0 {
        std::ptr::NonNull::<T>::dangling().as_ptr()
    } else {
        // SAFETY: `layout` has a non-zero size (checked above).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        ptr
    };
    // SAFETY: `ptr` is either dangling and aligned for a zero-sized `T`, or
    // allocated by the global allocator with `T`'s layout (what `Box`
    // expects) and all zero bytes, a valid `T` (ShmType contract: every
    // bit pattern is).
    unsafe { Box::from_raw(ptr) }
}

/// A copy of the `T` in `bytes` (exactly `size_of::<T>()` of them, any
/// alignment); `None` for another length.
pub(crate) fn read_from_bytes<T: ShmType>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `bytes` holds size_of::<T>() initialized bytes, read
    // unaligned, and every bit pattern is a valid `T` (ShmType contract).
    Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

/// The `T` at the start of `bytes`, in place.
///
/// # Panics
/// If `bytes` is shorter than `T` or not aligned for it.
pub(crate) fn ref_from_bytes<T: ShmType>(bytes: &[u8]) -> &T {
    assert!(bytes.len() >= std::mem::size_of::<T>());
    assert!(bytes.as_ptr().cast::<T>().is_aligned());
    // SAFETY: checked above: room and alignment for a `T`; the bytes are
    // initialized and every bit pattern is a valid `T` (ShmType contract);
    // the reference borrows `bytes`, so they do not change while it lives.
    unsafe { &*bytes.as_ptr().cast::<T>() }
}

/// The `T` at the start of `bytes`, in place, mutably.
///
/// # Panics
/// If `bytes` is shorter than `T` or not aligned for it.
pub(crate) fn mut_from_bytes<T: ShmType>(bytes: &mut [u8]) -> &mut T {
    assert!(bytes.len() >= std::mem::size_of::<T>());
    assert!(bytes.as_ptr().cast::<T>().is_aligned());
    // SAFETY: as in `ref_from_bytes`; any `T` written through the reference
    // leaves valid bytes (`T` has no padding), and it borrows `bytes` uniquely.
    unsafe { &mut *bytes.as_mut_ptr().cast::<T>() }
}

/// `n` values of `T` at the start of `bytes`, in place.
///
/// # Panics
/// If `bytes` is shorter than `n` values or not aligned for `T`.
pub(crate) fn slice_from_bytes<T: ShmType>(bytes: &[u8], n: usize) -> &[T] {
    let len = n.checked_mul(std::mem::size_of::<T>());
    assert!(len.is_some_and(|l| l <= bytes.len()));
    assert!(bytes.as_ptr().cast::<T>().is_aligned());
    // SAFETY: checked above: room and alignment for `n` values of `T`; the
    // bytes are initialized and every bit pattern is a valid `T` (ShmType
    // contract); the slice borrows `bytes`, so they do not change while it
    // lives.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), n) }
}

/// `n` values of `T` at the start of `bytes`, in place, mutably.
///
/// # Panics
/// If `bytes` is shorter than `n` values or not aligned for `T`.
pub(crate) fn slice_mut_from_bytes<T: ShmType>(bytes: &mut [u8], n: usize) -> &mut [T] {
    let len = n.checked_mul(std::mem::size_of::<T>());
    assert!(len.is_some_and(|l| l <= bytes.len()));
    assert!(bytes.as_ptr().cast::<T>().is_aligned());
    // SAFETY: as in `slice_from_bytes`; any `T` written through the slice
    // leaves valid bytes (`T` has no padding), and it borrows `bytes`
    // uniquely.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), n) }
}

/// The layout of a variable-size message: `H` followed by a run-time-length
/// array of `E` (see [`LayoutDescriptor::with_tail`]), built once per pair
/// of types. Its `max_len` is 0: a topic's own descriptor records its
/// maximum, which is not part of the hash.
///
/// A zero-sized `E` (`[u8; 0]`) fails to compile.
pub fn var_layout<H: ShmMessage, E: ShmType>() -> &'static LayoutDescriptor {
    const {
        assert!(
            std::mem::size_of::<E>() > 0,
            "the tail element of a variable-size message cannot be zero-sized"
        )
    };
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<HashMap<(TypeId, TypeId), &'static LayoutDescriptor>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (TypeId::of::<H>(), TypeId::of::<E>());
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache.entry(key).or_insert_with(|| {
        let layout = H::layout()
            .clone()
            .with_tail(E::type_desc(), 0)
            .expect("a ShmType is 1 to 8-aligned, and `E` is not empty (checked above)");
        // One per pair of message types a program uses: a bounded leak,
        // so that subscribers can keep a `&'static` as fixed topics do.
        Box::leak(Box::new(layout))
    })
}

macro_rules! scalar {
    ($($t:ty => $s:ident),* $(,)?) => {$(
        // SAFETY: primitives have no padding, accept every bit pattern, and
        // their size is `Scalar::size`.
        unsafe impl ShmType for $t {
            fn type_desc() -> TypeDesc {
                TypeDesc::scalar(Scalar::$s)
            }
        }
    )*};
}

scalar!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16,
        i32 => I32, i64 => I64, f32 => F32, f64 => F64, Flag => Flag);

// SAFETY: an array of padding-free, all-bit-patterns-valid elements is itself
// padding-free (array elements are contiguous, size is a multiple of align) and
// accepts every bit pattern; its descriptor is the element's with one more dimension.
unsafe impl<T: ShmType, const N: usize> ShmType for [T; N] {
    const FIELD_CHECK: () = T::FIELD_CHECK;

    fn type_desc() -> TypeDesc {
        T::type_desc().array(N as u32)
    }
}

/// A boolean stored as one byte: zero is `false`, anything else is `true`.
///
/// Use it instead of `bool`, which a peer could corrupt with a byte other than 0 or 1.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flag(u8);

impl Flag {
    /// `false`.
    pub const FALSE: Flag = Flag(0);
    /// `true`.
    pub const TRUE: Flag = Flag(1);

    /// Reads the flag: any non-zero byte is `true`.
    pub fn get(self) -> bool {
        self.0 != 0
    }

    /// Writes the flag.
    pub fn set(&mut self, v: bool) {
        self.0 = u8::from(v);
    }
}

// SAFETY: `Flag` is a `repr(transparent)` `u8`: every bit pattern (zero
// included) is valid, it has no padding and no interior mutability.
unsafe impl bytemuck::Zeroable for Flag {}
// SAFETY: as above; `Flag` is `Copy` and `'static`.
unsafe impl bytemuck::Pod for Flag {}

impl From<bool> for Flag {
    fn from(v: bool) -> Flag {
        Flag(u8::from(v))
    }
}

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.get()
    }
}

impl std::fmt::Debug for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.get(), f)
    }
}

/// The value did not fit in a fixed-capacity helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("capacity exceeded: {len} items or bytes do not fit in {capacity}")]
pub struct CapacityError {
    /// What was asked for.
    pub len: usize,
    /// What fits.
    pub capacity: usize,
}

/// A UTF-8 string of at most `N` bytes, stored inline: `len: u32` then `[u8; N]`.
///
/// `N` must be a multiple of 4 so that the type has no padding (checked at
/// compile time when the type is used).
///
/// The length is read from memory a peer may have written, so every accessor
/// clamps it to `N`, and [`as_str`](Self::as_str) reports invalid UTF-8.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedString<const N: usize> {
    len: u32,
    bytes: [u8; N],
}

impl<const N: usize> FixedString<N> {
    const CHECK: () = assert!(
        N % 4 == 0 && N <= u32::MAX as usize,
        "FixedString<N>: N must be a multiple of 4 (the type would have padding otherwise)"
    );

    /// The empty string.
    pub const fn new() -> Self {
        let () = Self::CHECK;
        FixedString {
            len: 0,
            bytes: [0; N],
        }
    }

    /// Replaces the contents with `s`.
    pub fn set(&mut self, s: &str) -> Result<(), CapacityError> {
        if s.len() > N {
            return Err(CapacityError {
                len: s.len(),
                capacity: N,
            });
        }
        self.bytes[..s.len()].copy_from_slice(s.as_bytes());
        self.bytes[s.len()..].fill(0);
        self.len = s.len() as u32;
        Ok(())
    }

    /// The length in bytes, clamped to `N`.
    pub fn len(&self) -> usize {
        (self.len as usize).min(N)
    }

    /// `true` if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw bytes (`len()` of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    /// The contents, or an error if a peer wrote invalid UTF-8.
    pub fn as_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(self.as_bytes())
    }

    /// The capacity `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for FixedString<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> std::fmt::Debug for FixedString<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.as_str() {
            Ok(s) => std::fmt::Debug::fmt(s, f),
            Err(_) => write!(f, "FixedString(invalid UTF-8 {:?})", self.as_bytes()),
        }
    }
}

impl<const N: usize> TryFrom<&str> for FixedString<N> {
    type Error = CapacityError;
    /// Copies `s`, or says how long it was if it does not fit.
    fn try_from(s: &str) -> Result<Self, CapacityError> {
        let mut out = Self::new();
        out.set(s)?;
        Ok(out)
    }
}

impl<const N: usize> std::str::FromStr for FixedString<N> {
    type Err = CapacityError;
    fn from_str(s: &str) -> Result<Self, CapacityError> {
        FixedString::try_from(s)
    }
}

// SAFETY: `repr(C)` of `u32` then `[u8; N]` with `N % 4 == 0` (checked by
// `CHECK`, evaluated in `type_desc`) has no padding; both fields accept every
// bit pattern (the length is clamped on read); the descriptor is `4 + N` bytes.
unsafe impl<const N: usize> ShmType for FixedString<N> {
    const FIELD_CHECK: () = Self::CHECK;

    fn type_desc() -> TypeDesc {
        let () = Self::CHECK;
        TypeDesc::of(Kind::FixedString { capacity: N as u32 })
    }
}

/// Up to `N` values of `T`, stored inline: `len: u32`, 4 reserved bytes, `[T; N]`.
///
/// `N * size_of::<T>()` must be a multiple of 4 (and of `T`'s alignment), so that
/// the type has no padding; this is checked at compile time when it is used.
/// The length is clamped to `N` on every read.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FixedVec<T: ShmType + Copy, const N: usize> {
    len: u32,
    reserved: u32,
    items: [T; N],
}

impl<T: ShmType + Copy, const N: usize> FixedVec<T, N> {
    const CHECK: () = assert!(
        std::mem::size_of::<Self>() == 8 + N * std::mem::size_of::<T>()
            && std::mem::align_of::<T>() <= 8
            && N <= u32::MAX as usize,
        "FixedVec<T, N>: N * size_of::<T>() must be a multiple of 4 and of T's alignment (the type would have padding otherwise)"
    );

    /// An empty vector.
    pub fn new() -> Self {
        let () = Self::CHECK;
        FixedVec {
            len: 0,
            reserved: 0,
            items: [T::zeroed(); N],
        }
    }

    /// Copies `items`, or fails if there are more than `N`.
    pub fn from_slice(items: &[T]) -> Result<Self, CapacityError> {
        let mut v = Self::new();
        v.set(items)?;
        Ok(v)
    }

    /// Replaces the contents with `items`.
    pub fn set(&mut self, items: &[T]) -> Result<(), CapacityError> {
        if items.len() > N {
            return Err(CapacityError {
                len: items.len(),
                capacity: N,
            });
        }
        self.items[..items.len()].copy_from_slice(items);
        self.len = items.len() as u32;
        Ok(())
    }

    /// Appends `v`, or hands it back if the vector is full.
    pub fn push(&mut self, v: T) -> Result<(), T> {
        let n = self.len();
        if n == N {
            return Err(v);
        }
        self.items[n] = v;
        self.len = n as u32 + 1;
        Ok(())
    }

    /// Number of items, clamped to `N`.
    pub fn len(&self) -> usize {
        (self.len as usize).min(N)
    }

    /// `true` if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len()]
    }

    /// The items, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let n = self.len();
        &mut self.items[..n]
    }
}

impl<T: ShmType + Copy, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ShmType + Copy + std::fmt::Debug, const N: usize> std::fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: ShmType + Copy + PartialEq, const N: usize> PartialEq for FixedVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: ShmType + Copy, const N: usize> std::ops::Deref for FixedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

// SAFETY: `repr(C)` of `u32`, `u32`, `[T; N]` with `align_of::<T>() <= 8` puts
// the items at offset 8; `CHECK` (evaluated in `type_desc`) proves the total
// size is exactly `8 + N * size_of::<T>()`, so there is no padding; `T: ShmType`
// accepts every bit pattern and the length is clamped on read.
unsafe impl<T: ShmType + Copy, const N: usize> ShmType for FixedVec<T, N> {
    const FIELD_CHECK: () = {
        let () = T::FIELD_CHECK;
        Self::CHECK
    };

    fn type_desc() -> TypeDesc {
        let () = Self::CHECK;
        TypeDesc::of(Kind::FixedVec {
            elem: Box::new(T::type_desc()),
            capacity: N as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_describe_their_real_layout() {
        assert_eq!(
            FixedString::<32>::type_desc().size as usize,
            std::mem::size_of::<FixedString<32>>()
        );
        assert_eq!(
            FixedVec::<f64, 5>::type_desc().size as usize,
            std::mem::size_of::<FixedVec<f64, 5>>()
        );
        assert_eq!(
            FixedVec::<u8, 12>::type_desc().size as usize,
            std::mem::size_of::<FixedVec<u8, 12>>()
        );
        assert_eq!(<[[f32; 3]; 2]>::type_desc().to_string(), "[[f32; 3]; 2]");
    }

    #[test]
    fn fixed_string_clamps_a_hostile_length() {
        let mut s = FixedString::<8>::try_from("abc").unwrap();
        assert_eq!(s.as_str().unwrap(), "abc");
        s.len = 1_000_000;
        assert_eq!(s.len(), 8);
        assert!(FixedString::<8>::try_from("123456789").is_err());
    }

    #[test]
    fn fixed_vec_push_and_clamp() {
        let mut v = FixedVec::<u32, 2>::new();
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Err(3));
        assert_eq!(v.as_slice(), &[1, 2]);
        v.len = u32::MAX;
        assert_eq!(v.len(), 2);
    }
}
