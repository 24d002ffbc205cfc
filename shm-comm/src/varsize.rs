//! Variable-size typed topics: a fixed part `H` followed by a run-time
//! number of elements `E` (an image header and its pixels, a cloud header
//! and its points), written and read in place.
//!
//! ```
//! use shm_comm::varsize::{VarPublisher, VarSubscriber};
//! use shm_comm::ShmMessage;
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Frame { stamp_ns: u64, width: u32, height: u32 }
//!
//! // Room for frames of up to 640x480 RGB pixels.
//! let mut publisher = VarPublisher::<Frame, [u8; 3]>::create("doc/camera", 640 * 480)?;
//! let mut subscriber = VarSubscriber::<Frame, [u8; 3]>::connect("doc/camera")?;
//!
//! let mut loan = publisher.loan_with_len(320 * 240)?;
//! let (header, pixels) = loan.parts_mut();
//! *header = Frame { stamp_ns: 1, width: 320, height: 240 };
//! pixels.fill([0, 128, 255]);
//! loan.send()?;
//!
//! let sample = subscriber.try_borrow()?;
//! assert_eq!(sample.header().width, 320);
//! assert_eq!(sample.elems().len(), 320 * 240); // exactly what was sent
//! assert_eq!(sample.elems()[0], [0, 128, 255]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Lengths
//! Every message carries its length in bytes (the ring's per-message
//! length): the fixed part, padding up to `E`'s alignment, then `n`
//! elements. A subscriber checks each length it reads (a whole number of
//! elements, at most the maximum) and reports any other as
//! [`BorrowError::Corrupt`]. A loan of more elements than the maximum is
//! [`SendError::TooLong`] unless the publisher may grow
//! ([`VarPubOptions::auto_grow`]).
//!
//! # Layout and type checks
//! The topic's descriptor records `H`'s layout, the element's and the
//! current maximum ([`LayoutDescriptor::tail`](crate::LayoutDescriptor)).
//! Its hash covers `H` and `E` but not the maximum: a subscriber of another
//! `H` or `E` is refused with [`OpenError::LayoutMismatch`] naming the
//! first difference, and one of the same types joins whatever the maximum.
//!
//! # Growing
//! [`VarPublisher::grow`] makes the topic's next generation: a segment of
//! larger slots, under the same name, whose descriptor says its generation
//! and how many messages came before it. Then the old ring is closed after
//! its last message. A subscriber reads the old ring to its end, then
//! attaches to the new one from its first message: nothing is lost or torn
//! by the switch. One that still reads generation `g` when `g + 2` appears
//! (two grows before it looked) cannot find `g + 1`: its messages count in
//! [`missed`](VarSubscriber::missed), which stays exact. Slots only grow.
//!
//! Lagging, borrowing limits and closing are those of a fixed topic (see
//! [`crate::pubsub`]).

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::codec::Codec;
use crate::error::{BorrowError, CreateError, OpenError, SendError};
use crate::layout::LayoutDescriptor;
use crate::message::{
    as_bytes, mut_from_bytes, ref_from_bytes, slice_from_bytes, slice_mut_from_bytes, var_layout,
    ShmMessage, ShmType,
};
use crate::pubsub::{
    ConnectOptions, Expect, PubOptions, RawLoan, RawPublisher, RawSample, RawSubscriber,
    TypedPubOptions,
};
use crate::segment::Payload;

/// A variable-size message type: the fixed part, with its element type.
/// The schema compiler implements it for messages declared with a `tail`
/// (the standard set's [`VarImage`](crate::msgs::VarImage) and
/// [`VarPointCloud`](crate::msgs::VarPointCloud)), so that
/// [`VarPub<M>`] and [`VarSub<M>`] name the handles from the message alone.
pub trait VarMessage: ShmMessage {
    /// The element of the run-time-length array after the fixed part.
    type Elem: ShmType;

    /// The layout of the whole message (see [`var_layout`]).
    fn var_layout() -> &'static LayoutDescriptor {
        var_layout::<Self, Self::Elem>()
    }
}

/// The publisher of variable-size message `M`.
pub type VarPub<M> = VarPublisher<M, <M as VarMessage>::Elem>;
/// The subscriber of variable-size message `M`.
pub type VarSub<M> = VarSubscriber<M, <M as VarMessage>::Elem>;

/// Settings of a variable-size topic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VarPubOptions {
    /// The ring's capacity and borrow budget; `None` (the default) sizes
    /// them for the largest message as [`TypedPubOptions::for_size`] does,
    /// again at each growth.
    pub ring: Option<TypedPubOptions>,
    /// A loan of more elements than the maximum grows the topic (to the
    /// larger of the length asked for and twice the maximum) instead of
    /// failing with [`SendError::TooLong`]. Default false.
    pub auto_grow: bool,
}

/// The byte offset of the first element after an `H`.
fn tail_offset<H: ShmMessage, E: ShmType>() -> usize {
    std::mem::size_of::<H>().next_multiple_of(std::mem::align_of::<E>())
}

/// A publisher of variable-size messages: see the [module docs](self).
#[derive(Debug)]
pub struct VarPublisher<H: ShmMessage, E: ShmType> {
    inner: RawVarPublisher,
    _t: PhantomData<fn(&H, &E)>,
}

impl<H: ShmMessage, E: ShmType> VarPublisher<H, E> {
    /// Creates topic `name` for messages of up to `max_len` elements, with
    /// the default options.
    pub fn create(name: &str, max_len: usize) -> Result<Self, CreateError> {
        Self::create_with(name, max_len, VarPubOptions::default())
    }

    /// Creates topic `name` for messages of up to `max_len` elements.
    pub fn create_with(
        name: &str,
        max_len: usize,
        opts: VarPubOptions,
    ) -> Result<Self, CreateError> {
        let inner = RawVarPublisher::create(name, var_layout::<H, E>(), max_len, opts)?;
        debug_assert_eq!(inner.tail_offset(), tail_offset::<H, E>());
        Ok(VarPublisher {
            inner,
            _t: PhantomData,
        })
    }

    /// Claims a slot for a message of exactly `len` elements, to write in
    /// place; publish it with [`VarLoan::send`]. More than
    /// [`max_len`](Self::max_len) elements is [`SendError::TooLong`], or
    /// grows the topic first if [`VarPubOptions::auto_grow`] allows it.
    pub fn loan_with_len(&mut self, len: usize) -> Result<VarLoan<'_, H, E>, SendError> {
        self.inner.reserve(len)?;
        Ok(VarLoan {
            raw: self.inner.raw.loan()?,
            len,
            _t: PhantomData,
        })
    }

    /// Publishes a copy of `header` and `elems` (a loan filled from them).
    pub fn send(&mut self, header: &H, elems: &[E]) -> Result<(), SendError>
    where
        E: Copy,
    {
        let mut loan = self.loan_with_len(elems.len())?;
        loan.raw.as_mut_bytes()[..std::mem::size_of::<H>()].copy_from_slice(as_bytes(header));
        loan.elems_mut().copy_from_slice(elems);
        loan.send()
    }

    /// Grows the topic to messages of up to `max_len` elements (a smaller
    /// or equal maximum changes nothing): see [growing](self#growing).
    ///
    /// If creating the larger segment fails (a full `/dev/shm`), the topic's
    /// name is gone until a later `grow` succeeds: subscribers already
    /// attached keep receiving from the old segment, new ones cannot find
    /// the topic.
    pub fn grow(&mut self, max_len: usize) -> Result<(), CreateError> {
        self.inner.grow(max_len)
    }

    /// The most elements a message may have now.
    pub fn max_len(&self) -> usize {
        self.inner.max_len()
    }

    /// How many times the topic grew.
    pub fn generation(&self) -> u32 {
        self.inner.generation()
    }

    /// Messages published so far, over all generations.
    pub fn published(&self) -> u64 {
        self.inner.published()
    }

    /// The untyped publisher of the current generation.
    pub fn raw(&self) -> &RawPublisher {
        self.inner.raw()
    }
}

/// The publisher of a variable-size topic whose message layout is known at
/// run time (a language binding's): [`VarPublisher`] without the types.
/// It creates, grows and sizes the topic; messages go through the
/// [`RawPublisher`] of the current generation ([`raw_mut`](Self::raw_mut)),
/// whose length checks ([`RawPublisher::commit`]) refuse any message that
/// is not the fixed part and a whole number of elements, at most the
/// current maximum.
#[derive(Debug)]
pub struct RawVarPublisher {
    raw: RawPublisher,
    /// The message's layout, with its tail (maximum, generation and base
    /// are this publisher's, set per generation).
    layout: LayoutDescriptor,
    opts: VarPubOptions,
    max_len: usize,
    generation: u32,
    /// Messages published in the generations before this one.
    base: u64,
}

impl RawVarPublisher {
    /// Creates topic `name` for messages of `layout` (which must have a
    /// tail) of up to `max_len` elements.
    pub fn create(
        name: &str,
        layout: &LayoutDescriptor,
        max_len: usize,
        opts: VarPubOptions,
    ) -> Result<Self, CreateError> {
        if layout.tail.is_none() {
            return Err(CreateError::Config {
                name: name.to_owned(),
                reason: format!(
                    "`{}` has no tail: it is not a variable-size message",
                    layout.name
                ),
            });
        }
        let gen0 = Self::layout_for(layout, name, max_len, 0, 0)?;
        let raw = RawPublisher::create(name, &Payload::of_layout(&gen0), ring_opts(&gen0, opts))?;
        Ok(RawVarPublisher {
            raw,
            layout: layout.clone(),
            opts,
            max_len,
            generation: 0,
            base: 0,
        })
    }

    fn layout_for(
        layout: &LayoutDescriptor,
        name: &str,
        max_len: usize,
        generation: u32,
        base: u64,
    ) -> Result<LayoutDescriptor, CreateError> {
        let config = |reason: String| CreateError::Config {
            name: name.to_owned(),
            reason,
        };
        let max = u32::try_from(max_len)
            .map_err(|_| config(format!("a maximum of {max_len} elements is too large")))?;
        let elem = layout
            .tail
            .as_ref()
            .expect("checked by create")
            .elem
            .clone();
        let mut layout = layout
            .clone()
            .with_tail(elem, max)
            .map_err(|e| config(e.to_string()))?;
        let tail = layout.tail.as_mut().expect("set by with_tail");
        tail.generation = generation;
        tail.base = base;
        Ok(layout)
    }

    /// Makes room for a message of `len` elements: nothing to do up to
    /// [`max_len`](Self::max_len); above it, [`SendError::TooLong`], or a
    /// [`grow`](Self::grow) if [`VarPubOptions::auto_grow`] allows it (to
    /// the larger of `len` and twice the maximum).
    pub fn reserve(&mut self, len: usize) -> Result<(), SendError> {
        if len <= self.max_len {
            return Ok(());
        }
        if !self.opts.auto_grow {
            return Err(SendError::TooLong {
                len,
                max: self.max_len,
            });
        }
        self.grow(len.max(self.max_len.saturating_mul(2)))
            .map_err(|e| SendError::Grow(e.to_string()))
    }

    /// Grows the topic to messages of up to `max_len` elements: see
    /// [`VarPublisher::grow`].
    pub fn grow(&mut self, max_len: usize) -> Result<(), CreateError> {
        if max_len <= self.max_len {
            return Ok(());
        }
        let base = self.published();
        let name = self.raw.name().to_owned();
        let layout = Self::layout_for(&self.layout, &name, max_len, self.generation + 1, base)?;
        let opts = ring_opts(&layout, self.opts);
        // The name must be free for the new segment (created exclusively);
        // subscribers keep the old one mapped and drain it.
        self.raw.unlink_name();
        let new = RawPublisher::create(&name, &Payload::of_layout(&layout), opts)?;
        // Dropping the old publisher closes its ring after its last
        // message, which wakes its subscribers: they read what is left,
        // then find the new segment under the name.
        drop(std::mem::replace(&mut self.raw, new));
        self.generation += 1;
        self.base = base;
        self.max_len = max_len;
        Ok(())
    }

    /// The byte offset of the first element.
    pub fn tail_offset(&self) -> usize {
        self.layout.tail.as_ref().map_or(0, |t| t.offset as usize)
    }

    /// The bytes of one element.
    pub fn elem_size(&self) -> usize {
        self.layout
            .tail
            .as_ref()
            .map_or(0, |t| t.elem.size as usize)
    }

    /// The bytes of a message of `len` elements (`None` if that overflows).
    pub fn message_len(&self, len: usize) -> Option<usize> {
        len.checked_mul(self.elem_size())?
            .checked_add(self.tail_offset())
    }

    /// The most elements a message may have now.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// How many times the topic grew.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Messages published so far, over all generations.
    pub fn published(&self) -> u64 {
        self.base + self.raw.published()
    }

    /// The untyped publisher of the current generation.
    pub fn raw(&self) -> &RawPublisher {
        &self.raw
    }

    /// The untyped publisher of the current generation, to send, claim and
    /// commit messages (after [`reserve`](Self::reserve)).
    pub fn raw_mut(&mut self) -> &mut RawPublisher {
        &mut self.raw
    }
}

/// The ring of a generation of `layout`.
fn ring_opts(layout: &LayoutDescriptor, opts: VarPubOptions) -> PubOptions {
    let max_payload = layout.max_message_len();
    let ring = opts
        .ring
        .unwrap_or_else(|| TypedPubOptions::for_size(max_payload as usize));
    PubOptions {
        capacity: ring.capacity,
        max_payload,
        borrow_budget: ring.borrow_budget,
    }
}

/// A slot claimed for a message of exactly [`len`](Self::len) elements.
/// It holds stale data from the slot's last use (every bit pattern is
/// valid); write the header and elements, then [`send`](Self::send).
/// Dropped unsent, the slot goes back unpublished.
#[derive(Debug)]
pub struct VarLoan<'a, H: ShmMessage, E: ShmType> {
    raw: RawLoan<'a>,
    len: usize,
    _t: PhantomData<(&'a mut H, &'a mut [E])>,
}

impl<H: ShmMessage, E: ShmType> VarLoan<'_, H, E> {
    /// The number of elements of this message.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for a message of no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fixed part.
    pub fn header(&self) -> &H {
        // The slot is 8-aligned (>= align_of::<H>()) and at least the
        // longest message; nothing else writes it while the loan lives.
        ref_from_bytes(self.raw.as_bytes())
    }

    /// The fixed part, to write.
    pub fn header_mut(&mut self) -> &mut H {
        mut_from_bytes(self.raw.as_mut_bytes())
    }

    /// The `len` elements.
    pub fn elems(&self) -> &[E] {
        // The elements start at a multiple of align_of::<E>() from the
        // 8-aligned slot, and `len <= max_len` of them fit (checked by
        // `loan_with_len`; the slot holds max_len).
        slice_from_bytes(&self.raw.as_bytes()[tail_offset::<H, E>()..], self.len)
    }

    /// The `len` elements, to write.
    pub fn elems_mut(&mut self) -> &mut [E] {
        slice_mut_from_bytes(
            &mut self.raw.as_mut_bytes()[tail_offset::<H, E>()..],
            self.len,
        )
    }

    /// The fixed part and the elements, to write both at once.
    pub fn parts_mut(&mut self) -> (&mut H, &mut [E]) {
        let len = self.len;
        let (head, tail) = self.raw.as_mut_bytes().split_at_mut(tail_offset::<H, E>());
        (mut_from_bytes(head), slice_mut_from_bytes(tail, len))
    }

    /// Publishes the message.
    pub fn send(self) -> Result<(), SendError> {
        let bytes = tail_offset::<H, E>() + self.len * std::mem::size_of::<E>();
        self.raw.send(bytes, Codec::Typed)
    }
}

/// A subscriber of variable-size messages: see the [module docs](self).
#[derive(Debug)]
pub struct VarSubscriber<H: ShmMessage, E: ShmType> {
    raw: RawSubscriber,
    /// The current generation's maximum, generation and base.
    max_len: usize,
    generation: u32,
    base: u64,
    /// `raw.switches().0` when last looked at.
    switches: u64,
    /// Messages of generations this subscriber never saw.
    skipped: u64,
    _t: PhantomData<fn() -> (H, E)>,
}

impl<H: ShmMessage, E: ShmType> VarSubscriber<H, E> {
    /// Connects to topic `name` with default options (waits up to 5 s).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, ConnectOptions::default())
    }

    /// Connects to topic `name`; fails with [`OpenError::LayoutMismatch`]
    /// if it carries other types (a fixed topic included).
    pub fn connect_with(name: &str, opts: ConnectOptions) -> Result<Self, OpenError> {
        let raw = RawSubscriber::connect(name, Expect::Typed(var_layout::<H, E>()), opts)?;
        let mut sub = VarSubscriber {
            raw,
            max_len: 0,
            generation: 0,
            base: 0,
            switches: 0,
            skipped: 0,
            _t: PhantomData,
        };
        sub.read_generation().map_err(|reason| OpenError::Corrupt {
            name: name.to_owned(),
            reason,
        })?;
        Ok(sub)
    }

    /// Reads the current segment's maximum, generation and base.
    fn read_generation(&mut self) -> Result<u64, String> {
        let tail = self
            .raw
            .layout()
            .and_then(|l| l.tail)
            .ok_or("the topic's descriptor lost its tail")?;
        let before = self.base;
        self.max_len = tail.max_len as usize;
        self.generation = tail.generation;
        self.base = tail.base;
        Ok(before)
    }

    /// After the raw subscriber switched segments: the new one's
    /// generation, and the messages of any generation it skipped.
    fn sync(&mut self) {
        let (switches, left_published) = self.raw.switches();
        if switches == self.switches {
            return;
        }
        self.switches = switches;
        if let Ok(old_base) = self.read_generation() {
            // The ring left was read to its end (or its losses counted by
            // the raw subscriber); a publisher that restarted counts from 0.
            self.skipped += self.base.saturating_sub(old_base + left_published);
        }
    }

    /// Borrows the next message in place, if one is there. Never blocks.
    pub fn try_borrow(&mut self) -> Result<VarSample<H, E>, BorrowError> {
        self.sync();
        let raw = match self.raw.try_borrow() {
            // A busy-polling caller comes here on every empty poll: one
            // more load (the closed flag) unless the publisher grew.
            Err(BorrowError::Empty) if self.raw.follow_closed() => {
                self.sync();
                self.raw.try_borrow()?
            }
            r => r?,
        };
        VarSample::of_raw(raw, self.max_len)
    }

    /// Borrows the next message, waiting until `deadline` (forever if
    /// `None`); [`BorrowError::Empty`] on timeout.
    pub fn borrow_deadline(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<VarSample<H, E>, BorrowError> {
        loop {
            match self.try_borrow() {
                Err(BorrowError::Empty) => {}
                r => return r,
            }
            if !self.raw.wait(deadline) {
                self.sync();
                return Err(BorrowError::Empty);
            }
        }
    }

    /// Borrows the next message, waiting up to `timeout`.
    pub fn borrow_timeout(&mut self, timeout: Duration) -> Result<VarSample<H, E>, BorrowError> {
        self.borrow_deadline(Instant::now().checked_add(timeout))
    }

    /// Borrows the next message, waiting as long as it takes.
    pub fn borrow(&mut self) -> Result<VarSample<H, E>, BorrowError> {
        self.borrow_deadline(None)
    }

    /// Messages skipped: those the subscriber fell too far behind to read,
    /// and those of generations it never saw.
    pub fn missed(&self) -> u64 {
        self.raw.missed() + self.skipped
    }

    /// The most elements a message may have in the generation read now.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The generation read now (how many times the topic had grown).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The position (over all generations) of the next message to read.
    pub fn position(&self) -> u64 {
        self.base + self.raw.position()
    }

    /// The untyped subscriber.
    pub fn raw(&self) -> &RawSubscriber {
        &self.raw
    }
}

/// A variable-size message borrowed in place: the slot is not rewritten
/// while this lives.
#[derive(Debug)]
pub struct VarSample<H, E> {
    raw: RawSample,
    len: usize,
    _t: PhantomData<fn() -> (H, E)>,
}

impl<H: ShmMessage, E: ShmType> VarSample<H, E> {
    /// The typed view of `raw`, whose length (written by the publisher
    /// process) must be a message of at most `max_len` elements.
    fn of_raw(raw: RawSample, max_len: usize) -> Result<Self, BorrowError> {
        let len = crate::layout::elems_in(
            raw.len(),
            tail_offset::<H, E>(),
            std::mem::size_of::<E>(),
            max_len,
        )
        .map_err(BorrowError::Corrupt)?;
        Ok(VarSample {
            raw,
            len,
            _t: PhantomData,
        })
    }

    /// The fixed part, in place.
    pub fn header(&self) -> &H {
        // The pinned slot is 8-aligned and holds at least the fixed part
        // (checked in `of_raw`); it does not change while pinned.
        ref_from_bytes(self.raw.as_bytes())
    }

    /// The elements, exactly as many as were sent, in place.
    pub fn elems(&self) -> &[E] {
        // `of_raw` checked that `len` elements follow the fixed part; they
        // start at a multiple of align_of::<E>() from the 8-aligned slot.
        slice_from_bytes(&self.raw.as_bytes()[tail_offset::<H, E>()..], self.len)
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for a message of no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole message's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShmMessage;

    #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    #[shm(crate = "crate")]
    struct Head {
        seq: u64,
        len: u32,
        tag: u8,
        _pad: [u8; 3],
    }

    #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    #[shm(crate = "crate")]
    struct Other {
        seq: u64,
        width: u32,
        tag: u8,
        _pad: [u8; 3],
    }

    /// Removes the topic's segment when dropped, even if the test fails.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = crate::segment::force_unlink(&self.0);
        }
    }

    fn unique(what: &str) -> (String, Cleanup) {
        let name = format!("test/varsize/{}-{what}", std::process::id());
        (name.clone(), Cleanup(name))
    }

    fn head(seq: u64, len: usize) -> Head {
        Head {
            seq,
            len: len as u32,
            tag: 7,
            _pad: [0; 3],
        }
    }

    #[test]
    fn a_loan_of_n_elements_is_borrowed_as_exactly_n() {
        let (name, _c) = unique("exact");
        let mut p = VarPublisher::<Head, u64>::create(&name, 100).unwrap();
        let mut s = VarSubscriber::<Head, u64>::connect(&name).unwrap();
        for (seq, n) in [(0u64, 0usize), (1, 1), (2, 37), (3, 100)] {
            let mut loan = p.loan_with_len(n).unwrap();
            assert_eq!(loan.elems().len(), n);
            let (h, e) = loan.parts_mut();
            *h = head(seq, n);
            for (i, v) in e.iter_mut().enumerate() {
                *v = seq * 1000 + i as u64;
            }
            loan.send().unwrap();
            let sample = s.try_borrow().unwrap();
            assert_eq!(*sample.header(), head(seq, n));
            assert_eq!(sample.len(), n);
            let want: Vec<u64> = (0..n as u64).map(|i| seq * 1000 + i).collect();
            assert_eq!(sample.elems(), &want[..]);
        }
        p.send(&head(9, 2), &[5, 6]).unwrap();
        assert_eq!(s.try_borrow().unwrap().elems(), &[5, 6]);
        assert_eq!(s.missed(), 0);
        assert!(matches!(s.try_borrow(), Err(BorrowError::Empty)));
    }

    #[test]
    fn more_elements_than_the_maximum_is_a_typed_error() {
        let (name, _c) = unique("too-long");
        let mut p = VarPublisher::<Head, [u8; 3]>::create(&name, 10).unwrap();
        match p.loan_with_len(11) {
            Err(SendError::TooLong { len: 11, max: 10 }) => {}
            other => panic!("expected TooLong, got {other:?}"),
        }
        assert_eq!(
            p.send(&head(0, 11), &[[0; 3]; 11]),
            Err(SendError::TooLong { len: 11, max: 10 })
        );
        assert_eq!(p.published(), 0);
    }

    #[test]
    fn a_subscriber_of_other_types_is_refused_by_field() {
        let (name, _c) = unique("mismatch");
        let _p = VarPublisher::<Head, [u8; 3]>::create(&name, 10).unwrap();
        let opts = ConnectOptions::with_timeout(Duration::ZERO);
        let err = VarSubscriber::<Head, [u8; 4]>::connect_with(&name, opts).unwrap_err();
        match err {
            OpenError::LayoutMismatch { difference, .. } => {
                assert_eq!(difference, "tail element: [u8; 4] vs [u8; 3]")
            }
            e => panic!("expected LayoutMismatch, got {e}"),
        }
        let err = VarSubscriber::<Other, [u8; 3]>::connect_with(&name, opts).unwrap_err();
        match err {
            OpenError::LayoutMismatch { difference, .. } => {
                assert!(difference.contains("`width`"), "{difference}")
            }
            e => panic!("expected LayoutMismatch, got {e}"),
        }
        // A fixed subscriber of the header alone is refused too.
        let err = crate::pubsub::Subscriber::<Head>::connect_with(&name, opts).unwrap_err();
        assert!(matches!(err, OpenError::LayoutMismatch { .. }), "{err}");
    }

    #[test]
    fn growing_loses_nothing_and_a_skipped_generation_is_counted() {
        let (name, _c) = unique("grow");
        let mut p = VarPublisher::<Head, u32>::create(&name, 4).unwrap();
        let mut s = VarSubscriber::<Head, u32>::connect(&name).unwrap();
        let mut sent = 0u64;
        let mut send = |p: &mut VarPublisher<Head, u32>, n: usize| {
            let elems: Vec<u32> = (0..n as u32).collect();
            p.send(&head(sent, n), &elems).unwrap();
            sent += 1;
        };
        send(&mut p, 4);
        send(&mut p, 2);
        p.grow(16).unwrap();
        assert_eq!(p.generation(), 1);
        send(&mut p, 16);
        let crate::segment::SegmentInfo { layout, .. } =
            crate::segment::inspect(&name, "pub").unwrap();
        let tail = layout.unwrap().tail.unwrap();
        assert_eq!((tail.max_len, tail.generation, tail.base), (16, 1, 2));
        for seq in 0..3 {
            let sample = s.borrow_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(sample.header().seq, seq);
            assert_eq!(sample.len(), sample.header().len as usize);
        }
        assert_eq!((s.max_len(), s.generation(), s.missed()), (16, 1, 0));
        // Two grows before the subscriber looks: generation 2 is gone.
        p.grow(32).unwrap();
        send(&mut p, 20);
        send(&mut p, 20);
        p.grow(64).unwrap();
        send(&mut p, 64);
        let sample = s.borrow_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((sample.header().seq, sample.len()), (5, 64));
        assert_eq!((s.generation(), s.missed()), (3, 2));
        // Auto-grow: a longer loan grows instead of failing.
        let mut p2 = VarPublisher::<Head, u32>::create_with(
            &format!("{name}-auto"),
            4,
            VarPubOptions {
                auto_grow: true,
                ..Default::default()
            },
        )
        .unwrap();
        let _c2 = Cleanup(format!("{name}-auto"));
        p2.loan_with_len(5).unwrap().send().unwrap();
        assert_eq!(p2.max_len(), 8);
        p2.loan_with_len(100).unwrap().send().unwrap();
        assert_eq!((p2.max_len(), p2.generation(), p2.published()), (100, 2, 2));
    }
}
