//! Named shared-memory segments: one per channel.
//!
//! # Names
//! A channel name such as `robot/pose` is validated ([`validate_name`]) and
//! escaped into a file name under `/dev/shm`: `shmc-<uid>-<escaped>.<role>`,
//! where `.` and `/` in the name become `%2E` and `%2F`, `<uid>` keeps users
//! apart and `<role>` tells the segments of one channel apart (`pub`, `req`, ...).
//!
//! # Life cycle
//! - **Create** (`O_CREAT | O_EXCL`, mode 0600): the creator holds an exclusive
//!   `flock` on the new file while it writes the header; [`OwnedSegment::create`]
//!   returns the segment unpublished ([`NewSegment`]) so that the caller
//!   writes the region, and [`NewSegment::publish`] then stores [`INIT_READY`]
//!   into `init` last (Release) and releases the lock. A new segment dropped
//!   unpublished is removed.
//! - **Open**: waits (up to a timeout) for the file to exist and for `init` to
//!   read [`INIT_READY`], then validates every header field against the real
//!   file size before using anything.
//! - **Ownership**: the creator owns the segment and removes it on drop (only
//!   if the name still refers to its file). Openers never remove it.
//! - **Dead creators**: `create` on a name whose segment exists inspects it
//!   under the `flock` (which also waits out a creator still initializing): if
//!   its creator (pid + start time from `/proc`) is alive, the create fails
//!   with [`CreateError::InUse`] naming the pid; otherwise the stale segment is
//!   unlinked and the create retried. A crashed owner thus never leaves a
//!   channel unusable, and a live one is never hijacked.

use crate::region::{align_up, Region};
use crate::sync::{self, AtomicU32, AtomicU64, Ordering};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{CreateError, NameError, OpenError};
use crate::platform;
/// The mapping of a segment: what keeps its region valid.
pub(crate) use crate::platform::Mapping;

/// Longest accepted channel name, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// Magic bytes at offset 0 of every segment.
pub const MAGIC: [u8; 8] = *b"SHMCOMM\0";
/// Version of the header and region layouts; bumped on any incompatible change.
pub const VERSION: u32 = 2;
/// Value of `init` once the creator has finished writing the segment.
pub const INIT_READY: u32 = 0x5245_4459;
/// Size reserved for the header; regions start after it.
pub const HEADER_LEN: usize = 256;
const ENDIAN_MARK: u32 = 0x0102_0304;

/// What a segment is for; stored in the header and checked on open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ChannelKind {
    /// A PUB/SUB broadcast ring.
    PubSub = 1,
    /// The request queue of a REQ/REP service.
    Request = 2,
    /// A reply ring of one requester.
    Reply = 3,
    /// A PUSH/PULL work queue.
    Queue = 4,
    /// The board of fd waiters' doorbells (`crate::bells`).
    Bells = 5,
    /// The directory of a multi-publisher topic (`crate::multipub`): a
    /// participant table of its publishers and subscribers.
    Directory = 6,
}

impl ChannelKind {
    fn from_u32(v: u32) -> Option<ChannelKind> {
        [
            ChannelKind::PubSub,
            ChannelKind::Request,
            ChannelKind::Reply,
            ChannelKind::Queue,
            ChannelKind::Bells,
            ChannelKind::Directory,
        ]
        .into_iter()
        .find(|k| *k as u32 == v)
    }

    /// What a channel of this kind is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ChannelKind::PubSub => "topic",
            ChannelKind::Request => "service",
            ChannelKind::Reply => "reply ring",
            ChannelKind::Queue => "queue",
            ChannelKind::Bells => "doorbell board",
            ChannelKind::Directory => "multi-publisher topic",
        }
    }
}

/// What the messages of a segment are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Frames of bytes, each tagged with its codec.
    Dynamic,
    /// Messages of one fixed layout; the encoded [`LayoutDescriptor`](crate::LayoutDescriptor) is stored.
    Typed {
        /// Structural hash of the layout.
        hash: u64,
        /// The encoded descriptor.
        descriptor: Vec<u8>,
    },
}

impl Payload {
    /// The payload of a typed channel of `T`: its layout's hash and
    /// encoded descriptor.
    pub fn typed<T: crate::message::ShmMessage>() -> Payload {
        Payload::of_layout(T::layout())
    }

    /// The payload of a typed channel whose messages have `layout` (one
    /// known only at run time: read from a schema, or built by a language
    /// binding): its hash and encoded descriptor, computed here so that no
    /// caller assembles the pair by hand and lets them disagree.
    pub fn of_layout(layout: &crate::LayoutDescriptor) -> Payload {
        Payload::Typed {
            hash: layout.hash(),
            descriptor: layout.encode(),
        }
    }
}

/// The fixed header at offset 0. Written once by the creator before `init`
/// becomes [`INIT_READY`]; afterwards only `init` and `closed` change.
///
/// Not API: public so that tests can build damaged segments from the real
/// offsets (`offset_of!`). The offsets below are the on-disk format of
/// [`VERSION`]: changing one fails to compile until the version changes too.
#[doc(hidden)]
#[repr(C)]
#[allow(missing_docs, missing_debug_implementations)]
pub struct Header {
    pub magic: [u8; 8],
    pub version: u32,
    /// 0 while the creator writes; [`INIT_READY`] (Release) once it is done.
    /// Accessed atomically only, through `Header::init`.
    pub init: u32,
    /// [`ENDIAN_MARK`] in the creator's byte order.
    pub endian: u32,
    /// `usize::BITS` of the creator.
    pub ptr_width: u32,
    pub kind: u32,
    /// 0 dynamic, 1 typed.
    pub payload: u32,
    pub creator_pid: u32,
    /// 1 once the owner has shut the channel down (it is about to be unlinked).
    /// Accessed atomically only, through `Segment::closed_flag`.
    pub closed: u32,
    pub creator_start: u64,
    pub total_len: u64,
    pub layout_hash: u64,
    pub layout_off: u64,
    pub layout_len: u64,
    pub region_off: u64,
    pub region_len: u64,
    /// Length of `name`: the channel name, kept so that a file whose name
    /// had to be shortened (see [`file_name`]) can still be listed.
    pub name_len: u32,
    pub name: [u8; MAX_NAME_LEN],
}

impl Header {
    /// The `init` word of the header at `base`.
    ///
    /// # Safety
    /// `base` is the page-aligned start of a live mapping of at least
    /// `HEADER_LEN` bytes, which outlives `'a`; every process accesses
    /// `init` atomically only.
    unsafe fn init<'a>(base: *mut u8) -> &'a AtomicU32 {
        let h = base.cast::<Header>();
        // SAFETY: forwarded from the caller; `init` is an aligned `u32`
        // inside the header.
        unsafe { sync::u32_at((&raw mut (*h).init).cast()) }
    }
}

const _: () = {
    use std::mem::offset_of;
    assert!(std::mem::size_of::<Header>() <= HEADER_LEN);
    assert!(VERSION == 2, "the offsets below are version 2's");
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, version) == 8);
    assert!(offset_of!(Header, init) == 12);
    assert!(offset_of!(Header, endian) == 16);
    assert!(offset_of!(Header, ptr_width) == 20);
    assert!(offset_of!(Header, kind) == 24);
    assert!(offset_of!(Header, payload) == 28);
    assert!(offset_of!(Header, creator_pid) == 32);
    assert!(offset_of!(Header, closed) == 36);
    assert!(offset_of!(Header, creator_start) == 40);
    assert!(offset_of!(Header, total_len) == 48);
    assert!(offset_of!(Header, layout_hash) == 56);
    assert!(offset_of!(Header, layout_off) == 64);
    assert!(offset_of!(Header, layout_len) == 72);
    assert!(offset_of!(Header, region_off) == 80);
    assert!(offset_of!(Header, region_len) == 88);
    assert!(offset_of!(Header, name_len) == 96);
    assert!(offset_of!(Header, name) == 100);
};

/// Checks a channel name: 1 to [`MAX_NAME_LEN`] bytes of `A-Z a-z 0-9 _ - .`
/// in components separated by single `/`, no `.` or `..` component.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    if let Some((pos, ch)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
    {
        return Err(NameError::BadChar {
            name: name.to_owned(),
            ch,
            pos,
        });
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(NameError::BadComponent {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The prefix of every segment file of this user.
pub fn user_prefix() -> String {
    format!("shmc-{}-", platform::uid())
}

/// Longest file name the file system takes (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// Hex digits of the hash that ends a shortened file name.
const HASH_DIGITS: usize = 16;

/// FNV-1a, 64 bits: a stable hash of a channel name for shortened file names.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The file name (in the segment directory) of the `role` segment of
/// channel `name`: `shmc-<uid>-<escaped>.<role>`, where `/` and `.` in the
/// name become `%2F` and `%2E`.
///
/// Escaping can make a valid name longer than a file name may be
/// (`NAME_MAX`, 255 bytes): then the escaped name is cut and followed by
/// `~` and 16 hex digits of a hash of the whole name (`~` never occurs in a
/// channel name). The whole name is also kept in the segment's header,
/// where [`list`] reads it back.
pub fn file_name(name: &str, role: &str) -> Result<String, NameError> {
    validate_name(name)?;
    let mut s = user_prefix();
    let mut esc = String::with_capacity(name.len() * 3);
    for c in name.chars() {
        match c {
            '/' => esc.push_str("%2F"),
            '.' => esc.push_str("%2E"),
            c => esc.push(c),
        }
    }
    let room = NAME_MAX.saturating_sub(s.len() + 1 + role.len());
    if esc.len() > room {
        let keep = room.saturating_sub(1 + HASH_DIGITS);
        // Cut on a character boundary (the escaped name is ASCII).
        esc.truncate(keep);
        esc.push_str(&format!("~{:016x}", name_hash(name)));
    }
    s.push_str(&esc);
    s.push('.');
    s.push_str(role);
    Ok(s)
}

/// Splits a file name made by [`file_name`] back into `(channel name,
/// role)`; `None` for a shortened name (its channel name is only in the
/// header) and for names that are not ours.
pub fn parse_file_name(file: &str) -> Option<(String, String)> {
    let rest = file.strip_prefix(&user_prefix())?;
    let (esc, role) = rest.rsplit_once('.')?;
    if esc.contains('~') {
        return None;
    }
    let name = esc.replace("%2F", "/").replace("%2E", ".");
    validate_name(&name).ok()?;
    Some((name, role.to_owned()))
}

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateSpec<'a> {
    /// Channel name.
    pub name: &'a str,
    /// Segment role (file name suffix).
    pub role: &'a str,
    /// Channel kind.
    pub kind: ChannelKind,
    /// Payload description.
    pub payload: &'a Payload,
    /// Size of the region that follows the header and layout.
    pub region_len: usize,
}

/// What an opener expects to find.
#[derive(Clone, Debug)]
pub struct OpenSpec<'a> {
    /// Channel name.
    pub name: &'a str,
    /// Segment role.
    pub role: &'a str,
    /// Expected kind.
    pub kind: ChannelKind,
    /// How long to wait for the segment to exist and be initialized.
    pub timeout: Duration,
}

/// An open, validated segment. Cheap to clone (the mapping is shared).
#[derive(Clone, Debug)]
pub struct Segment {
    map: Arc<Mapping>,
    name: Arc<str>,
    file: Arc<str>,
    inode: u64,
    payload_typed: bool,
    layout_off: usize,
    layout_len: usize,
    region_off: usize,
    region_len: usize,
    creator_pid: u32,
    creator_start: u64,
}

/// The creator's handle: unlinks the segment on drop.
#[derive(Debug)]
pub struct OwnedSegment {
    seg: Segment,
}

impl std::ops::Deref for OwnedSegment {
    type Target = Segment;
    fn deref(&self) -> &Segment {
        &self.seg
    }
}

/// Creates `file` exclusively and takes the creator's lock on it.
/// `Ok(None)`: another process judged the fresh file stale before we locked
/// it; try again. `Err` with `AlreadyExists`: the name is taken.
fn try_create_locked(file: &str) -> std::io::Result<Option<(OwnedFd, u64)>> {
    let fd = platform::shm_create_excl(file, 0o600)?;
    // Held until `init` is READY, so that a concurrent `create` that finds
    // this file waits for us instead of judging a half-written header.
    // Between `shm_open` and here another creator may have judged our empty
    // file stale: then the lock is taken or the name points elsewhere.
    let locked = platform::lock_exclusive(&fd, Duration::from_millis(50))?;
    let inode = platform::fstat(&fd)?.inode;
    Ok((locked && platform::shm_inode(file) == Some(inode)).then_some((fd, inode)))
}

/// Sizes, maps and writes the header and descriptor of a file made by
/// [`try_create_locked`]. The region is left zeroed and `init` 0: the
/// caller writes the region, then publishes (`publish_init`). Leaves the
/// lock held.
fn init_new(
    spec: &CreateSpec<'_>,
    fd: &OwnedFd,
    file: &str,
    inode: u64,
) -> Result<Segment, CreateError> {
    let io = |op: &'static str| {
        let name = spec.name.to_owned();
        move |source| CreateError::Io { name, op, source }
    };
    let (hash, descriptor): (u64, &[u8]) = match spec.payload {
        Payload::Dynamic => (0, &[]),
        Payload::Typed { hash, descriptor } => (*hash, descriptor),
    };
    let layout_off = HEADER_LEN;
    let region_off = align_up(layout_off + descriptor.len(), 4096);
    let total = region_off
        .checked_add(spec.region_len)
        .filter(|&t| t <= isize::MAX as usize / 2)
        .ok_or_else(|| CreateError::Config {
            name: spec.name.to_owned(),
            reason: format!("region of {} bytes is too large", spec.region_len),
        })?;
    platform::reserve(fd, total as u64).map_err(|source| CreateError::NoSpace {
        name: spec.name.to_owned(),
        bytes: total as u64,
        dir: platform::shm_dir().display().to_string(),
        source,
    })?;
    let map = Mapping::map(fd, total).map_err(io("mmap"))?;
    let base = map.as_ptr();
    let pid = platform::pid();
    let start = platform::process_start_time(pid).unwrap_or(0);
    let mut name = [0u8; MAX_NAME_LEN];
    // `validate_name` (in `file_name` above) bounds the length.
    name[..spec.name.len()].copy_from_slice(spec.name.as_bytes());
    let header = Header {
        magic: MAGIC,
        version: VERSION,
        init: 0,
        endian: ENDIAN_MARK,
        ptr_width: usize::BITS,
        kind: spec.kind as u32,
        payload: u32::from(matches!(spec.payload, Payload::Typed { .. })),
        creator_pid: pid,
        closed: 0,
        creator_start: start,
        total_len: total as u64,
        layout_hash: hash,
        layout_off: layout_off as u64,
        layout_len: descriptor.len() as u64,
        region_off: region_off as u64,
        region_len: spec.region_len as u64,
        name_len: spec.name.len() as u32,
        name,
    };
    // SAFETY: the mapping is `total >= HEADER_LEN` bytes, page aligned, and
    // nobody else uses it yet (`init` is 0 so openers wait; we hold the flock).
    // The descriptor fits before `region_off` by construction.
    unsafe {
        std::ptr::write(base.cast::<Header>(), header);
        std::ptr::copy_nonoverlapping(descriptor.as_ptr(), base.add(layout_off), descriptor.len());
    }
    Ok(Segment {
        map: Arc::new(map),
        name: spec.name.into(),
        file: file.into(),
        inode,
        payload_typed: matches!(spec.payload, Payload::Typed { .. }),
        layout_off,
        layout_len: descriptor.len(),
        region_off,
        region_len: spec.region_len,
        creator_pid: pid,
        creator_start: start,
    })
}

/// Marks a segment whose header and region are written as ready for
/// openers, and wakes those that wait.
fn publish_init(seg: &Segment) {
    // SAFETY: the header was written at offset 0 of the live mapping that
    // `seg` holds (`init_new`).
    let init = unsafe { Header::init(seg.map.as_ptr()) };
    // Release: pairs with the Acquire load of `init` in `read_header`; makes
    // the header, descriptor and region writes before it visible to openers.
    init.store(INIT_READY, Ordering::Release);
    sync::wake_all(init);
}

/// A segment just created: its header written, its region zeroed, not yet
/// visible to openers (`init` is 0) and its creator's lock held. Write the
/// region (the floor views it), then [`publish`](Self::publish) it.
/// Dropped unpublished, it is removed.
#[derive(Debug)]
pub struct NewSegment {
    seg: Segment,
    /// The creator's lock; taken by `publish` (`None` after).
    fd: Option<OwnedFd>,
}

impl NewSegment {
    /// The region to initialize (zeroed), seen by no other process yet.
    /// Views made from it are used only while the published segment (or a
    /// clone of its mapping) lives: see [`Segment::region`].
    pub(crate) fn region(&self) -> Region {
        self.seg.region()
    }

    /// Publishes the segment to openers (`init` = READY, stored last) and
    /// releases the creator's lock: the caller's writes to the region are
    /// visible to every opener.
    pub fn publish(mut self) -> OwnedSegment {
        publish_init(&self.seg);
        if let Some(fd) = self.fd.take() {
            // Explicitly: the mapping keeps the open file (and a lock on it) alive.
            platform::unlock(&fd);
        }
        OwnedSegment {
            seg: self.seg.clone(),
        }
    }

    /// The published segment's lock, for `SharedSegment`.
    fn into_locked(mut self) -> (Segment, OwnedFd) {
        let fd = self.fd.take().expect("unpublished");
        publish_init(&self.seg);
        (self.seg.clone(), fd)
    }
}

impl Drop for NewSegment {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            // Never published: remove it (if the name is still ours).
            if platform::shm_inode(&self.seg.file) == Some(self.seg.inode) {
                let _ = platform::shm_unlink(&self.seg.file);
            }
            platform::unlock(&fd);
        }
    }
}

/// How many times `create` retries when other processes keep replacing the name.
const CREATE_ATTEMPTS: u32 = 8;

fn too_many_attempts(name: &str) -> CreateError {
    CreateError::Io {
        name: name.to_owned(),
        op: "open",
        source: std::io::Error::other("the name kept being replaced by other processes"),
    }
}

impl OwnedSegment {
    /// Creates the segment, replacing a stale one whose creator died. It is
    /// returned unpublished: write its zeroed region, then
    /// [`publish`](NewSegment::publish) it.
    pub fn create(spec: &CreateSpec<'_>) -> Result<NewSegment, CreateError> {
        let file = file_name(spec.name, spec.role)?;
        for _ in 0..CREATE_ATTEMPTS {
            match try_create_locked(&file) {
                Ok(Some((fd, inode))) => {
                    let seg = init_new(spec, &fd, &file, inode).inspect_err(|_| {
                        let _ = platform::shm_unlink(&file);
                    })?;
                    return Ok(NewSegment { seg, fd: Some(fd) });
                }
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    remove_if_stale(spec.name, spec.role, &file)?;
                }
                Err(source) => {
                    return Err(CreateError::Io {
                        name: spec.name.to_owned(),
                        op: "open",
                        source,
                    })
                }
            }
        }
        Err(too_many_attempts(spec.name))
    }

    /// Removes the channel's name if it still refers to this segment (a
    /// replacing owner's segment is left alone). The segment stays mapped
    /// by whoever has it open.
    pub fn unlink_name(&self) {
        if platform::shm_inode(&self.seg.file) == Some(self.seg.inode) {
            let _ = platform::shm_unlink(&self.seg.file);
        }
    }

    /// Marks the channel closed (openers see [`Segment::is_closed`]).
    pub fn mark_closed(&self) {
        // Release: pairs with the Acquire load in `is_closed`.
        self.closed_flag().store(1, Ordering::Release);
    }
}

impl Drop for OwnedSegment {
    fn drop(&mut self) {
        self.mark_closed();
        self.unlink_name();
    }
}

/// The trust boundary: a segment file is used (read, mapped, joined or
/// removed) only if `fstat` on the open descriptor shows a regular file
/// owned by our effective uid that nobody else may read or write. Checked
/// before a single byte of it is read, so another local user can neither
/// feed us frames (a pickle, say) nor learn ours, and a squatted name is
/// reported with its owner instead of being used or deleted.
fn check_owner(name: &str, file: &str, st: &platform::FileStat) -> Result<(), OpenError> {
    let me = platform::uid();
    if st.regular && st.uid == me && st.mode & 0o077 == 0 {
        return Ok(());
    }
    Err(OpenError::NotOwned {
        name: name.to_owned(),
        file: platform::shm_dir().join(file).display().to_string(),
        owner: st.uid,
        mode: st.mode | if st.regular { 0 } else { 0o170_000 },
        expected: me,
    })
}

/// Opens the existing segment file `file` of channel `name` and checks
/// that it is ours ([`check_owner`]); `Ok(None)` if there is none. A file
/// we may not open, or a link, is reported with its owner and mode.
fn open_checked(name: &str, file: &str) -> Result<Option<OwnedFd>, OpenError> {
    let fd = match platform::shm_open_existing(file) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::ELOOP | libc::EPERM)
            ) =>
        {
            let st = platform::stat_path(file).map_err(open_io(name, "lstat"))?;
            check_owner(name, file, &st)?;
            return Err(open_io(name, "open")(e));
        }
        Err(e) => return Err(open_io(name, "open")(e)),
    };
    let st = platform::fstat(&fd).map_err(open_io(name, "fstat"))?;
    check_owner(name, file, &st)?;
    Ok(Some(fd))
}

/// What the start of an existing file says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Looks {
    /// All zero: left by a creator that died before writing the header (a
    /// fresh file is reserved zeroed and the header written in one go).
    /// Stale, ours to replace.
    Blank,
    /// Starts with our magic: a segment, judged by its header.
    Segment,
    /// Anything else: not ours to delete.
    Foreign,
}

fn looks(fd: &OwnedFd, len: u64) -> std::io::Result<Looks> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::from(fd.try_clone()?);
    let mut buf = vec![0u8; (len as usize).min(HEADER_LEN)];
    f.read_exact_at(&mut buf, 0)?;
    Ok(if buf.iter().all(|&b| b == 0) {
        Looks::Blank
    } else if buf.starts_with(&MAGIC) {
        Looks::Segment
    } else {
        Looks::Foreign
    })
}

fn foreign(name: &str, file: &str, len: u64) -> CreateError {
    CreateError::Existing(Box::new(OpenError::Corrupt {
        name: name.to_owned(),
        reason: format!(
            "the file {} ({len} bytes) is not a shm-comm segment; it was left in place",
            platform::shm_dir().join(file).display()
        ),
    }))
}

/// Inspects an existing segment file and unlinks it if its creator is dead.
fn remove_if_stale(name: &str, role: &str, file: &str) -> Result<(), CreateError> {
    let Some(fd) = open_checked(name, file).map_err(|e| CreateError::Existing(Box::new(e)))? else {
        return Ok(());
    };
    let io = |op: &'static str| {
        move |source| CreateError::Io {
            name: name.to_owned(),
            op,
            source,
        }
    };
    // Waits for a creator that is still initializing (it holds the lock).
    let locked = platform::lock_exclusive(&fd, STALE_LOCK_WAIT).map_err(io("flock"))?;
    let st = platform::fstat(&fd).map_err(io("fstat"))?;
    let (len, inode) = (st.len, st.inode);
    if platform::shm_inode(file) != Some(inode) {
        return Ok(()); // replaced meanwhile: retry the create
    }
    let header = (len >= HEADER_LEN as u64)
        .then(|| Mapping::map(&fd, HEADER_LEN).ok())
        .flatten()
        .map(|map| read_header(&map))
        .filter(|h| h.magic == MAGIC);
    if header.is_none() && looks(&fd, len).map_err(io("read"))? == Looks::Foreign {
        if locked {
            platform::unlock(&fd);
        }
        return Err(foreign(name, file, len));
    }
    let live_owner = header
        .as_ref()
        .filter(|h| platform::process_alive(h.pid, h.start))
        .map(|h| h.pid);
    if let Some(pid) = live_owner {
        if locked {
            platform::unlock(&fd);
        }
        return Err(CreateError::InUse {
            name: name.to_owned(),
            pid,
        });
    }
    if !locked {
        // Someone holds the lock for long but no live creator is recorded:
        // a replacer of ours is stuck; do not race it.
        return Err(CreateError::InUse {
            name: name.to_owned(),
            pid: header.map_or(0, |h| h.pid),
        });
    }
    // Creator dead, or it died before finishing the header: stale.
    let _ = platform::shm_unlink(file);
    platform::unlock(&fd);
    crate::events::emit(|| crate::events::Event::Replaced {
        name: name.to_owned(),
        role: role.to_owned(),
        pid: header.map_or(0, |h| h.pid),
    });
    Ok(())
}

/// How long `create` waits for another process initializing the same name.
const STALE_LOCK_WAIT: Duration = Duration::from_secs(2);

struct HeaderSnapshot {
    magic: [u8; 8],
    version: u32,
    init: u32,
    endian: u32,
    ptr_width: u32,
    kind: u32,
    payload: u32,
    pid: u32,
    start: u64,
    total_len: u64,
    layout_hash: u64,
    layout_off: u64,
    layout_len: u64,
    region_off: u64,
    region_len: u64,
}

/// Copies the header out of a mapping of at least `HEADER_LEN` bytes.
fn read_header(map: &Mapping) -> HeaderSnapshot {
    debug_assert!(map.len() >= HEADER_LEN);
    let h = map.as_ptr().cast::<Header>();
    // SAFETY: the mapping holds at least HEADER_LEN >= size_of::<Header>()
    // bytes and is page aligned. `init` is loaded atomically (Acquire: pairs
    // with the Release store in `create`); the other fields are copied with
    // volatile reads, which tolerate any bytes a foreign writer left there
    // (every field is an integer, valid for every bit pattern).
    unsafe {
        let init = Header::init(map.as_ptr()).load(Ordering::Acquire);
        HeaderSnapshot {
            magic: std::ptr::read_volatile(&raw const (*h).magic),
            version: std::ptr::read_volatile(&raw const (*h).version),
            init,
            endian: std::ptr::read_volatile(&raw const (*h).endian),
            ptr_width: std::ptr::read_volatile(&raw const (*h).ptr_width),
            kind: std::ptr::read_volatile(&raw const (*h).kind),
            payload: std::ptr::read_volatile(&raw const (*h).payload),
            pid: std::ptr::read_volatile(&raw const (*h).creator_pid),
            start: std::ptr::read_volatile(&raw const (*h).creator_start),
            total_len: std::ptr::read_volatile(&raw const (*h).total_len),
            layout_hash: std::ptr::read_volatile(&raw const (*h).layout_hash),
            layout_off: std::ptr::read_volatile(&raw const (*h).layout_off),
            layout_len: std::ptr::read_volatile(&raw const (*h).layout_len),
            region_off: std::ptr::read_volatile(&raw const (*h).region_off),
            region_len: std::ptr::read_volatile(&raw const (*h).region_len),
        }
    }
}

fn open_io(name: &str, op: &'static str) -> impl FnOnce(std::io::Error) -> OpenError {
    let name = name.to_owned();
    move |source| OpenError::Io { name, op, source }
}

/// Maps an open segment file of `len` bytes, waits (until `deadline`) for
/// its creator to mark it READY, and validates the header.
fn map_validated(
    spec: &OpenSpec<'_>,
    fd: &OwnedFd,
    file: &str,
    len: u64,
    start: Instant,
    deadline: Option<Instant>,
) -> Result<Segment, OpenError> {
    let len = usize::try_from(len).map_err(|_| OpenError::Corrupt {
        name: spec.name.to_owned(),
        reason: format!("file size {len} does not fit in memory"),
    })?;
    let inode = platform::fstat(fd)
        .map_err(open_io(spec.name, "fstat"))?
        .inode;
    let map = Mapping::map(fd, len).map_err(open_io(spec.name, "mmap"))?;
    // Wait for the creator to finish.
    let h = loop {
        let h = read_header(&map);
        if h.init == INIT_READY {
            break h;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(OpenError::NotReady {
                name: spec.name.to_owned(),
                pid: h.pid,
                waited: now - start,
            });
        }
        // SAFETY: the mapping is at least HEADER_LEN bytes and starts with
        // a header (being written by its creator).
        let init = unsafe { Header::init(map.as_ptr()) };
        let slice = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
        sync::wait(
            init,
            h.init,
            Some(now + slice.min(Duration::from_millis(10))),
        );
    };
    validate(spec, &h, map, len, file.to_owned(), inode)
}

impl Segment {
    /// Opens an existing segment, waiting up to `spec.timeout` for it to
    /// appear and be initialized, and validates its header.
    pub fn open(spec: &OpenSpec<'_>) -> Result<Segment, OpenError> {
        Self::open_fd(spec).map(|(seg, _fd)| seg)
    }

    /// [`open`](Self::open), also returning the open file (for `flock`).
    fn open_fd(spec: &OpenSpec<'_>) -> Result<(Segment, OwnedFd), OpenError> {
        let file = file_name(spec.name, spec.role)?;
        let start = Instant::now();
        // `None`: a timeout too large to represent waits forever.
        let deadline = start.checked_add(spec.timeout);
        let expired = |now: Instant| deadline.is_some_and(|d| now >= d);
        let name = || spec.name.to_owned();
        let mut backoff = Duration::from_micros(200);
        let (fd, len) = loop {
            let now = Instant::now();
            match open_checked(spec.name, &file)? {
                Some(fd) => {
                    let len = platform::fstat(&fd)
                        .map_err(open_io(spec.name, "fstat"))?
                        .len;
                    if len >= HEADER_LEN as u64 {
                        break (fd, len);
                    }
                    if expired(now) {
                        return Err(OpenError::NotReady {
                            name: name(),
                            pid: 0,
                            waited: now - start,
                        });
                    }
                }
                None => {
                    if expired(now) {
                        return Err(OpenError::NotFound {
                            name: name(),
                            waited: now - start,
                        });
                    }
                }
            }
            let left = deadline.map_or(backoff, |d| d.saturating_duration_since(now));
            std::thread::sleep(backoff.min(left));
            backoff = (backoff * 2).min(Duration::from_millis(20));
        };
        let seg = map_validated(spec, &fd, &file, len, start, deadline)?;
        Ok((seg, fd))
    }

    /// The channel name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file name under `/dev/shm`.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// The inode of the segment file.
    // Used by modules the loom build leaves out (multi-publisher, bells).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn inode(&self) -> u64 {
        self.inode
    }

    /// The creator's pid.
    pub fn creator_pid(&self) -> u32 {
        self.creator_pid
    }

    /// `true` if the creator process is still alive.
    pub fn creator_alive(&self) -> bool {
        platform::process_alive(self.creator_pid, self.creator_start)
    }

    /// `true` once the owner has shut the channel down.
    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `mark_closed`.
        self.closed_flag().load(Ordering::Acquire) != 0
    }

    /// `true` if the channel's name now refers to another segment (the owner
    /// was replaced) or to none.
    pub fn is_replaced(&self) -> bool {
        platform::shm_inode(&self.file) != Some(self.inode)
    }

    /// `true` for typed segments.
    pub fn is_typed(&self) -> bool {
        self.payload_typed
    }

    /// The encoded layout descriptor (empty for dynamic segments). These are
    /// bytes of shared memory copied out; decode them with
    /// [`LayoutDescriptor::decode`](crate::LayoutDescriptor::decode), which validates.
    pub fn layout_bytes(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.layout_len];
        // SAFETY: `layout_off + layout_len <= region_off <= len` was validated
        // (or written by us); the bytes are immutable after init, and are only
        // copied, never interpreted in place.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().add(self.layout_off),
                v.as_mut_ptr(),
                self.layout_len,
            );
        }
        v
    }

    /// Checks that the segment carries what the opener expects: `None`, a
    /// dynamic channel; `Some(layout)`, a typed channel of exactly that
    /// layout (the error names the first differing field on both sides).
    /// `what` names the channel kind in messages ("topic", "queue", ...).
    pub fn check_payload(
        &self,
        expect: Option<&crate::layout::LayoutDescriptor>,
        what: &str,
    ) -> Result<(), OpenError> {
        let name = || self.name().to_owned();
        match (self.is_typed(), expect) {
            (false, None) => Ok(()),
            (true, Some(ours)) => {
                let theirs = crate::layout::LayoutDescriptor::decode(&self.layout_bytes())
                    .map_err(|e| OpenError::Corrupt {
                        name: name(),
                        reason: e.to_string(),
                    })?;
                if theirs.hash() == ours.hash() {
                    return Ok(());
                }
                Err(OpenError::LayoutMismatch {
                    name: name(),
                    ours: ours.name.clone(),
                    theirs: theirs.name.clone(),
                    ours_hash: ours.hash(),
                    theirs_hash: theirs.hash(),
                    difference: ours.first_difference(&theirs).unwrap_or_else(|| {
                        format!("hash {:#018x} vs {:#018x}", ours.hash(), theirs.hash())
                    }),
                })
            }
            (false, Some(ours)) => Err(OpenError::Incompatible {
                name: name(),
                reason: format!("it is a dynamic {what}, opened as typed `{}`", ours.name),
            }),
            (true, None) => Err(OpenError::Incompatible {
                name: name(),
                reason: format!("it is a typed {what}, opened as dynamic"),
            }),
        }
    }

    /// The region after the header (4096-byte aligned).
    ///
    /// Crate invariant: the views made from it (rings, queues, mailboxes,
    /// the participant table) are used only while this segment, a clone of
    /// it, or its [`mapping`](Self::mapping) lives: every holder of such a
    /// view keeps one next to it (the patterns store the segment with the
    /// view; samples and waiters hold the mapping). Not public for that
    /// reason: a view that outlived the mapping would read unmapped memory.
    pub(crate) fn region(&self) -> Region {
        // SAFETY: `region_off + region_len <= map.len()` was validated (or
        // written by us), and `region_off` is a multiple of 4096 inside a
        // page-aligned mapping; the mapping is valid while any clone of
        // `self` or of its `Arc<Mapping>` lives, which the crate invariant
        // above makes outlast every view; other processes access the
        // region only through the floor's atomics and copies.
        unsafe { Region::new(self.map.as_ptr().add(self.region_off), self.region_len) }
    }

    /// Makes `len` bytes at `off` (from the region's start) read-only in
    /// this process's mapping, for a role that only reads them (whole pages
    /// within the range).
    pub fn protect_read_only(&self, off: usize, len: usize) -> std::io::Result<()> {
        let len = len.min(self.region_len.saturating_sub(off));
        self.map.protect_read_only(self.region_off + off, len)
    }

    /// A handle that keeps the mapping alive.
    pub fn mapping(&self) -> Arc<Mapping> {
        self.map.clone()
    }

    /// The header's `closed` flag. Only this atomic is handed out: other
    /// processes may write any header field, so no `&Header` (which would
    /// let the plain fields be read as if nobody wrote them) is made.
    fn closed_flag(&self) -> &AtomicU32 {
        let h = self.map.as_ptr().cast::<Header>();
        // SAFETY: the mapping starts with a header (validated or written by
        // us) and lives as long as `self`; `closed` is an aligned `u32` in
        // it that every process accesses atomically only.
        unsafe { sync::u32_at((&raw mut (*h).closed).cast()) }
    }
}

fn validate(
    spec: &OpenSpec<'_>,
    h: &HeaderSnapshot,
    map: Mapping,
    len: usize,
    file: String,
    inode: u64,
) -> Result<Segment, OpenError> {
    let corrupt = |reason: String| OpenError::Corrupt {
        name: spec.name.to_owned(),
        reason,
    };
    let incompatible = |reason: String| OpenError::Incompatible {
        name: spec.name.to_owned(),
        reason,
    };
    if h.magic != MAGIC {
        return Err(corrupt(format!(
            "bad magic {:02x?} (expected {:02x?})",
            h.magic, MAGIC
        )));
    }
    if h.endian != ENDIAN_MARK {
        return Err(incompatible(format!(
            "byte order mark {:#010x} vs ours {ENDIAN_MARK:#010x}",
            h.endian
        )));
    }
    if h.version != VERSION {
        return Err(incompatible(format!(
            "layout version {} vs ours {VERSION}",
            h.version
        )));
    }
    if h.ptr_width != usize::BITS {
        return Err(incompatible(format!(
            "pointer width {} vs ours {}",
            h.ptr_width,
            usize::BITS
        )));
    }
    let kind = ChannelKind::from_u32(h.kind)
        .ok_or_else(|| corrupt(format!("unknown channel kind {}", h.kind)))?;
    if kind != spec.kind {
        return Err(incompatible(format!(
            "it is a {kind:?} channel, opened as {:?}",
            spec.kind
        )));
    }
    if h.payload > 1 {
        return Err(corrupt(format!("unknown payload kind {}", h.payload)));
    }
    if h.total_len != len as u64 {
        return Err(corrupt(format!(
            "header says {} bytes but the file has {len}",
            h.total_len
        )));
    }
    let within = |off: u64, n: u64| off.checked_add(n).is_some_and(|e| e <= len as u64);
    if h.layout_off < HEADER_LEN as u64 || !within(h.layout_off, h.layout_len) {
        return Err(corrupt(format!(
            "layout descriptor at {}+{} is outside the {len}-byte file",
            h.layout_off, h.layout_len
        )));
    }
    if h.region_off % 4096 != 0
        || h.region_off < h.layout_off + h.layout_len
        || !within(h.region_off, h.region_len)
    {
        return Err(corrupt(format!(
            "region at {}+{} is misplaced or outside the {len}-byte file",
            h.region_off, h.region_len
        )));
    }
    if (h.payload == 1) != (h.layout_len > 0) {
        return Err(corrupt(format!(
            "payload kind {} with a {}-byte layout descriptor",
            h.payload, h.layout_len
        )));
    }
    let seg = Segment {
        map: Arc::new(map),
        name: spec.name.into(),
        file: file.into(),
        inode,
        payload_typed: h.payload == 1,
        layout_off: h.layout_off as usize,
        layout_len: h.layout_len as usize,
        region_off: h.region_off as usize,
        region_len: h.region_len as usize,
        creator_pid: h.pid,
        creator_start: h.start,
    };
    if seg.payload_typed {
        let d = crate::layout::LayoutDescriptor::decode(&seg.layout_bytes())
            .map_err(|e| corrupt(e.to_string()))?;
        if d.hash() != h.layout_hash {
            return Err(corrupt(format!(
                "stored layout hash {:#018x} does not match its descriptor's {:#018x}",
                h.layout_hash,
                d.hash()
            )));
        }
    }
    Ok(seg)
}

/// Channels of this user that exist now: `(channel name, role)` pairs.
pub fn list() -> Vec<(String, String)> {
    platform::list_shm(&user_prefix())
        .iter()
        .filter_map(|f| parse_file_name(f).or_else(|| stored_name(f)))
        // The doorbell board is the library's, not a channel.
        .filter(|(_, role)| role != "bells")
        .collect()
}

/// The channel name and role of a segment whose file name was shortened,
/// from its header (only from a file that is ours, holding a name whose
/// file name is `file`).
fn stored_name(file: &str) -> Option<(String, String)> {
    use std::os::unix::fs::FileExt;
    let (_, role) = file.rsplit_once('.')?;
    let fd = open_checked("?", file).ok()??;
    let mut h = [0u8; HEADER_LEN];
    std::fs::File::from(fd).read_exact_at(&mut h, 0).ok()?;
    let off = std::mem::offset_of!(Header, name_len);
    let len = u32::from_ne_bytes(h[off..off + 4].try_into().ok()?) as usize;
    let at = std::mem::offset_of!(Header, name);
    let name = std::str::from_utf8(h.get(at..at + len.min(MAX_NAME_LEN))?).ok()?;
    (h[..8] == MAGIC && file_name(name, role).ok()? == file)
        .then(|| (name.to_owned(), role.to_owned()))
}

/// Removes every segment of channel `name` (all roles), whoever created them.
/// For cleaning up after crashed programs; live peers keep their mappings.
/// Returns how many were removed.
pub fn force_unlink(name: &str) -> Result<usize, NameError> {
    validate_name(name)?;
    let mut n = 0;
    for (chan, role) in list() {
        if chan == name && unlink(&chan, &role)? {
            n += 1;
        }
    }
    Ok(n)
}

/// The pid of a live process that uses segment `role` of channel `name`:
/// for a segment with a participant table (queues, services), a registered
/// participant; for the others, its creator. `None` if none is alive, if
/// there is no such segment, or if the file is not a segment of ours.
pub fn live_user(name: &str, role: &str) -> Option<u32> {
    let file = file_name(name, role).ok()?;
    let fd = open_checked(name, &file).ok()??;
    let len = usize::try_from(platform::fstat(&fd).ok()?.len).ok()?;
    if len < HEADER_LEN {
        return None;
    }
    let map = Mapping::map(&fd, len).ok()?;
    let h = read_header(&map);
    if h.magic != MAGIC {
        return None;
    }
    let shared = matches!(
        ChannelKind::from_u32(h.kind),
        Some(ChannelKind::Request | ChannelKind::Queue)
    );
    let table_end = usize::try_from(h.region_off)
        .ok()
        .filter(|off| off % 4096 == 0)
        .and_then(|off| off.checked_add(TABLE_LEN));
    match table_end {
        Some(end) if shared && h.init == INIT_READY && end <= len => {
            let table = Table {
                // SAFETY: `region_off + TABLE_LEN <= len`: the table lies
                // inside the mapping, which lives until the end of the
                // block; `region_off` is page aligned (checked above).
                region: unsafe { Region::new(map.as_ptr().add(end - TABLE_LEN), TABLE_LEN) },
            };
            (0..MAX_PARTICIPANTS).find_map(|i| {
                // Acquire: pairs with the Release store of `pid` in `register`.
                let pid = table.pid(i).load(Ordering::Acquire);
                let start = table.start(i).load(Ordering::Relaxed);
                (pid != 0 && platform::process_alive(pid, start)).then_some(pid)
            })
        }
        _ => platform::process_alive(h.pid, h.start).then_some(h.pid),
    }
}

/// What an existing segment says about itself, read by [`inspect`]
/// without joining the channel (for tools such as `shmc`).
#[derive(Clone, Debug)]
pub struct SegmentInfo {
    /// The channel name.
    pub name: String,
    /// The segment's role (`pub`, `svc`, `queue`, ...).
    pub role: String,
    /// The file name under the segment directory.
    pub file: String,
    /// What the segment is for.
    pub kind: ChannelKind,
    /// The layout of a typed channel (validated against its stored hash),
    /// `None` for a dynamic one.
    pub layout: Option<crate::LayoutDescriptor>,
    /// The creator's pid.
    pub creator_pid: u32,
    /// `true` if the creator (pid and start time) is still alive.
    pub creator_alive: bool,
    /// `true` once the owner has shut the channel down.
    pub closed: bool,
    /// Size of the segment file in bytes.
    pub file_len: u64,
    /// For a PUB/SUB ring: its geometry and how many messages its current
    /// publisher has published.
    pub ring: Option<(crate::ring::Geometry, u64)>,
    /// For a service or a queue: the registered participants (role
    /// codes: `reqrep::REPLIER`, `reqrep::REQUESTER`, `pipeline::PUSHER`,
    /// `pipeline::PULLER`), dead ones included until someone prunes them.
    pub participants: Vec<Participant>,
}

impl SegmentInfo {
    /// The most elements a message may have now, for a variable-size
    /// topic (see [`crate::varsize`]); `None` for any other channel.
    pub fn max_len(&self) -> Option<u32> {
        Some(self.layout.as_ref()?.tail.as_ref()?.max_len)
    }
}

/// One entry of a shared segment's participant table ([`SegmentInfo`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Its pid.
    pub pid: u32,
    /// Its role code, as written by the participant (not validated).
    pub role: u32,
    /// `true` if that process (pid and start time) is alive.
    pub alive: bool,
}

/// Reads segment `role` of channel `name` without joining it: the header
/// is validated as [`Segment::open`] does (without waiting: a segment not
/// yet initialized is [`OpenError::NotReady`]), and nothing is written to
/// the segment. Counters are a snapshot that may change at once.
pub fn inspect(name: &str, role: &str) -> Result<SegmentInfo, OpenError> {
    let file = file_name(name, role)?;
    let fd = open_checked(name, &file)?.ok_or_else(|| OpenError::NotFound {
        name: name.to_owned(),
        waited: Duration::ZERO,
    })?;
    let st = platform::fstat(&fd).map_err(open_io(name, "fstat"))?;
    let corrupt = |reason: String| OpenError::Corrupt {
        name: name.to_owned(),
        reason,
    };
    let len = usize::try_from(st.len)
        .ok()
        .filter(|&l| l >= HEADER_LEN)
        .ok_or_else(|| corrupt(format!("file of {} bytes has no header", st.len)))?;
    let map = Mapping::map(&fd, len).map_err(open_io(name, "mmap"))?;
    let h = read_header(&map);
    if h.init != INIT_READY {
        return Err(OpenError::NotReady {
            name: name.to_owned(),
            pid: h.pid,
            waited: Duration::ZERO,
        });
    }
    let kind = ChannelKind::from_u32(h.kind)
        .ok_or_else(|| corrupt(format!("unknown channel kind {}", h.kind)))?;
    let spec = OpenSpec {
        name,
        role,
        kind,
        timeout: Duration::ZERO,
    };
    // `validate` checks every header field against the file before the
    // region or the descriptor is touched.
    let seg = validate(&spec, &h, map, len, file.clone(), st.inode)?;
    let layout = if seg.is_typed() {
        Some(
            crate::LayoutDescriptor::decode(&seg.layout_bytes())
                .map_err(|e| corrupt(e.to_string()))?,
        )
    } else {
        None
    };
    let ring = match kind {
        ChannelKind::PubSub => {
            let ring = crate::ring::Ring::attach(seg.region()).map_err(corrupt)?;
            Some((ring.geometry(), ring.published()))
        }
        _ => None,
    };
    let participants = match (kind, Table::at(seg.region())) {
        (ChannelKind::Request | ChannelKind::Queue | ChannelKind::Directory, Some(table)) => (0
            ..MAX_PARTICIPANTS)
            .filter_map(|i| {
                // Acquire: pairs with the Release store of `pid` in `register`
                // (role and start time are visible with it).
                let pid = table.pid(i).load(Ordering::Acquire);
                let start = table.start(i).load(Ordering::Relaxed);
                (pid != 0).then(|| Participant {
                    pid,
                    role: table.role(i).load(Ordering::Relaxed),
                    alive: platform::process_alive(pid, start),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(SegmentInfo {
        name: name.to_owned(),
        role: role.to_owned(),
        creator_alive: seg.creator_alive(),
        closed: seg.is_closed(),
        creator_pid: seg.creator_pid(),
        file,
        kind,
        layout,
        file_len: st.len,
        ring,
        participants,
    })
}

/// Removes segment `role` of channel `name`, whoever created it. Returns
/// `true` if it existed.
pub fn unlink(name: &str, role: &str) -> Result<bool, NameError> {
    let file = file_name(name, role)?;
    close_if_dead_publisher(name, role);
    Ok(platform::shm_unlink(&file).is_ok())
}

/// Before a topic's segment is removed: if its publisher is dead, closes
/// its ring, so that subscribers blocked on it (with no timeout, they
/// sleep until woken) wake and attach to the next publisher's segment.
fn close_if_dead_publisher(name: &str, role: &str) {
    if role == crate::pubsub::ROLE {
        crate::pubsub::close_stale_ring(name, role);
    }
}

/// Bytes reserved at the start of a shared segment's region for its
/// participant table; the body follows.
pub const TABLE_LEN: usize = 4096;
const TABLE_ENTRY: usize = 16;
const TABLE_FIRST: usize = 64;
/// Table header: the change counter (u64), bumped after every change of
/// the entries (a join, a leave, a dead entry freed) and by
/// [`SharedSegment::touch`]; segments made before it existed read 0.
const TABLE_CHANGES: usize = 0;
/// Table header: the wake-up words (`notify`, `waiters`) of the change
/// counter (see `sync::Event`).
const TABLE_NOTIFY: usize = 8;
const TABLE_WAITERS: usize = 12;
/// Most participants of one shared segment.
pub const MAX_PARTICIPANTS: u32 = ((TABLE_LEN - TABLE_FIRST) / TABLE_ENTRY) as u32;

/// The participant table of a shared segment: `{pid: u32, role: u32,
/// start: u64}` entries, pid 0 meaning free. Changed only under the segment
/// file's `flock`; read by anyone at any time (atomically).
#[derive(Clone, Copy, Debug)]
struct Table {
    /// The first TABLE_LEN bytes of the segment's region.
    region: Region,
}

impl Table {
    /// The table in the first TABLE_LEN bytes of `region`.
    fn at(region: Region) -> Option<Table> {
        Some(Table {
            region: region.sub(0, TABLE_LEN)?,
        })
    }

    /// Entry `i` (`i < MAX_PARTICIPANTS`) lies inside the table; its words
    /// are only accessed atomically.
    fn pid(&self, i: u32) -> &AtomicU32 {
        self.region.u32_at(TABLE_FIRST + i as usize * TABLE_ENTRY)
    }
    fn role(&self, i: u32) -> &AtomicU32 {
        // As in `pid`, 4 bytes further.
        self.region
            .u32_at(TABLE_FIRST + i as usize * TABLE_ENTRY + 4)
    }
    fn start(&self, i: u32) -> &AtomicU64 {
        // As in `pid`, 8 bytes further (8-aligned).
        self.region
            .u64_at(TABLE_FIRST + i as usize * TABLE_ENTRY + 8)
    }

    /// The change counter, in the table's header (8-aligned, inside it).
    fn changes(&self) -> &AtomicU64 {
        self.region.u64_at(TABLE_CHANGES)
    }

    /// The wake-up words of the change counter, in the table's header.
    fn event(&self) -> sync::Event<'_> {
        sync::Event {
            notify: self.region.u32_at(TABLE_NOTIFY),
            waiters: self.region.u32_at(TABLE_WAITERS),
        }
    }

    /// Records a change of the table (or of what its participants offer)
    /// and wakes those that wait for one.
    fn changed(&self) {
        // Release: pairs with the Acquire load in `SharedSegment::changes`:
        // a reader that sees the new count also sees the entries (and any
        // segment a participant made) written before it.
        self.changes().fetch_add(1, Ordering::Release);
        self.event().notify();
    }

    /// Frees entries of dead processes; returns how many live ones remain.
    fn prune(&self) -> u32 {
        let mut freed = false;
        let mut live = 0;
        for i in 0..MAX_PARTICIPANTS {
            // Acquire: pairs with the Release store of `pid` in `register`
            // (its start time is visible with it).
            let pid = self.pid(i).load(Ordering::Acquire);
            if pid == 0 {
                continue;
            }
            if platform::process_alive(pid, self.start(i).load(Ordering::Relaxed)) {
                live += 1;
            } else {
                // Release: pairs with the Acquire load in `register` that
                // finds the entry free (and reuses it).
                self.pid(i).store(0, Ordering::Release);
                freed = true;
            }
        }
        if freed {
            self.changed();
        }
        live
    }

    fn register(&self, role: u32) -> Option<u32> {
        let pid = platform::pid();
        let start = platform::process_start_time(pid).unwrap_or(0);
        // A free entry keeps its last owner's start time, and that owner's
        // claims (queue cells, mailboxes) may outlive it. A process started
        // in the same clock tick would get its claim token in that entry,
        // and keep the dead claims alive for as long as it lives (a queue
        // whose pushers then find it full for ever): take another entry.
        let i = (0..MAX_PARTICIPANTS).find(|&i| {
            // Acquire: pairs with the Release stores of 0 in `prune` and in
            // `SharedSegment`'s drop (the entry's last owner is done with it).
            self.pid(i).load(Ordering::Acquire) == 0
                && (self.start(i).load(Ordering::Relaxed) ^ start) & TOKEN_START_MASK != 0
        })?;
        self.role(i).store(role, Ordering::Relaxed);
        self.start(i).store(start, Ordering::Relaxed);
        // Release: pairs with the Acquire loads of `pid` in readers of the
        // table (`prune`, `count_live`): role and start are visible with it.
        self.pid(i).store(pid, Ordering::Release);
        self.changed();
        Some(i)
    }

    /// `(index, pid)` of the entries registered with `role` now, alive or
    /// not (no `/proc` read).
    fn members(&self, role: u32) -> Vec<(u32, u32)> {
        (0..MAX_PARTICIPANTS)
            .filter_map(|i| {
                // Acquire: pairs with the Release store of `pid` in `register`.
                let pid = self.pid(i).load(Ordering::Acquire);
                (pid != 0 && self.role(i).load(Ordering::Relaxed) == role).then_some((i, pid))
            })
            .collect()
    }

    fn count_live(&self, role: u32) -> u32 {
        (0..MAX_PARTICIPANTS)
            .filter(|&i| {
                // Acquire: pairs with the Release store of `pid` in `register`.
                let pid = self.pid(i).load(Ordering::Acquire);
                pid != 0
                    && self.role(i).load(Ordering::Relaxed) == role
                    && platform::process_alive(pid, self.start(i).load(Ordering::Relaxed))
            })
            .count() as u32
    }
}

/// How protocol words of a shared segment (queue cells, reply mailboxes)
/// name the participant that claimed them, so that a claim outlives no
/// process and survives pid reuse: a *claim token* of 30 bits, the
/// claimer's participant-table index in the low 8 bits and the low 22 bits
/// of its start time (clock ticks since boot, as recorded in its entry)
/// above them. A token is alive only while entry `index` is registered,
/// with that start time, to a live process started then: a dead claimer's
/// entry is pruned or reused by a process started later, and a pid reused
/// by an unrelated process (or by another participant) has another start
/// time. A token naming an entry out of range is dead (a peer wrote garbage).
#[derive(Clone, Copy, Debug)]
pub struct Peers {
    table: Table,
    me: u32,
}

const TOKEN_INDEX_BITS: u32 = 8;
const TOKEN_START_MASK: u64 = (1 << 22) - 1;

fn claim_token(index: u32, start: u64) -> u32 {
    index | (((start & TOKEN_START_MASK) as u32) << TOKEN_INDEX_BITS)
}

impl Peers {
    /// This participant's claim token.
    pub fn me(&self) -> u32 {
        self.me
    }

    /// `true` if the participant that `token` names is registered and alive
    /// (reads `/proc`).
    pub fn alive(&self, token: u32) -> bool {
        let i = token & ((1 << TOKEN_INDEX_BITS) - 1);
        if i >= MAX_PARTICIPANTS {
            return false;
        }
        // Acquire: pairs with the Release store of `pid` in `register`.
        let pid = self.table.pid(i).load(Ordering::Acquire);
        let start = self.table.start(i).load(Ordering::Relaxed);
        pid != 0 && claim_token(i, start) == token && platform::process_alive(pid, start)
    }

    /// Peers over a participant table at the start of `region` (TABLE_LEN
    /// bytes, zeroed or holding entries), registering this process with `role`.
    #[cfg(test)]
    pub(crate) fn register_in(region: Region, role: u32) -> Peers {
        let table = Table::at(region).expect("room for a table");
        let index = table.register(role).expect("room in the table");
        Peers {
            table,
            me: claim_token(index, table.start(index).load(Ordering::Relaxed)),
        }
    }

    /// Test hook: writes entry `i` of the table as if `pid`, started at
    /// `start`, had registered there.
    #[cfg(test)]
    pub(crate) fn fake_entry(&self, i: u32, pid: u32, start: u64) -> u32 {
        self.table.start(i).store(start, Ordering::Relaxed);
        self.table.pid(i).store(pid, Ordering::Release);
        claim_token(i, start)
    }
}

/// Says, under the segment's lock, whether a shared segment whose last
/// participant leaves (or whose participants all died) must stay: `true`
/// keeps it (a queue that still holds jobs). Called with the body (the
/// mapped body of the segment; other processes may use it meanwhile).
pub type Linger = fn(body: Region) -> bool;

/// A segment shared by many participants (PUSH/PULL queues, REQ/REP
/// services): created by the first, joined by the others, removed by the last
/// one to leave unless its [`Linger`] keeps it. Participants are recorded
/// (pid + start time) in a table at the start of the region; a segment whose
/// participants all died is stale and replaced by the next `create_or_join`
/// (again unless its `Linger` keeps it: then it is joined).
#[derive(Debug)]
pub struct SharedSegment {
    seg: Segment,
    fd: OwnedFd,
    index: u32,
    linger: Option<Linger>,
}

impl std::ops::Deref for SharedSegment {
    type Target = Segment;
    fn deref(&self) -> &Segment {
        &self.seg
    }
}

/// What [`SharedSegment::create_or_join`] found.
#[derive(Debug)]
pub enum CreatedOrJoined {
    /// A new segment: write its body, then publish it.
    Created(NewSharedSegment),
    /// An existing segment, joined.
    Joined(SharedSegment),
}

/// A shared segment just created, not yet visible to openers and joiners
/// (who wait): write its zeroed body (the floor views it), then
/// [`publish`](Self::publish) it. Dropped unpublished, it is removed.
#[derive(Debug)]
pub struct NewSharedSegment {
    new: NewSegment,
    role: u32,
    linger: Option<Linger>,
}

impl NewSharedSegment {
    /// The body to initialize (zeroed): the region after the participant
    /// table. As for [`Segment::region`], views made from it are used only
    /// while the published segment lives.
    pub(crate) fn body(&self) -> Region {
        body(&self.new.seg)
    }

    /// Publishes the segment (`init` = READY, stored last, after the
    /// caller's writes to the body), registers the creator with its role
    /// and releases the creator's lock.
    pub fn publish(self) -> SharedSegment {
        let (role, linger) = (self.role, self.linger);
        let (seg, fd) = self.new.into_locked();
        let index = table(&seg).register(role).expect("fresh table has room");
        platform::unlock(&fd);
        SharedSegment {
            seg,
            fd,
            index,
            linger,
        }
    }
}

impl SharedSegment {
    /// Joins the segment `spec` names, or creates it if it does not exist or
    /// all its participants are dead: then it is returned unpublished, for
    /// the caller to write its body and publish it. `spec.region_len` is
    /// the body length. Registers this process with `role`.
    pub fn create_or_join(
        spec: &CreateSpec<'_>,
        role: u32,
        linger: Option<Linger>,
    ) -> Result<CreatedOrJoined, CreateError> {
        let file = file_name(spec.name, spec.role)?;
        let full = CreateSpec {
            region_len: spec.region_len + TABLE_LEN,
            ..spec.clone()
        };
        for _ in 0..CREATE_ATTEMPTS {
            match try_create_locked(&file) {
                Ok(Some((fd, inode))) => {
                    let seg = init_new(&full, &fd, &file, inode).inspect_err(|_| {
                        let _ = platform::shm_unlink(&file);
                    })?;
                    return Ok(CreatedOrJoined::Created(NewSharedSegment {
                        new: NewSegment { seg, fd: Some(fd) },
                        role,
                        linger,
                    }));
                }
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(joined) = join_existing(spec, &file, role, linger)? {
                        return Ok(CreatedOrJoined::Joined(joined));
                    }
                }
                Err(source) => {
                    return Err(CreateError::Io {
                        name: spec.name.to_owned(),
                        op: "open",
                        source,
                    })
                }
            }
        }
        Err(too_many_attempts(spec.name))
    }

    /// Joins an existing segment, waiting up to `spec.timeout` for it.
    pub fn join(
        spec: &OpenSpec<'_>,
        role: u32,
        linger: Option<Linger>,
    ) -> Result<SharedSegment, OpenError> {
        let deadline = Instant::now().checked_add(spec.timeout);
        loop {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let (seg, fd) = Segment::open_fd(&OpenSpec {
                timeout: left,
                ..spec.clone()
            })?;
            if seg.region_len < TABLE_LEN {
                return Err(OpenError::Corrupt {
                    name: spec.name.to_owned(),
                    reason: format!(
                        "region of {} bytes has no participant table",
                        seg.region_len
                    ),
                });
            }
            let locked = platform::lock_exclusive(&fd, STALE_LOCK_WAIT)
                .map_err(open_io(spec.name, "flock"))?;
            // The last participant may have removed it meanwhile: look again.
            if locked && !seg.is_replaced() {
                let t = table(&seg);
                t.prune();
                let index = t.register(role);
                platform::unlock(&fd);
                let index = index.ok_or_else(|| OpenError::Full {
                    name: spec.name.to_owned(),
                    max: MAX_PARTICIPANTS,
                })?;
                return Ok(SharedSegment {
                    seg,
                    fd,
                    index,
                    linger,
                });
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(OpenError::NotReady {
                    name: spec.name.to_owned(),
                    pid: seg.creator_pid,
                    waited: spec.timeout,
                });
            }
        }
    }

    /// The body: the region after the participant table. As for
    /// [`Segment::region`], views made from it are used only while this
    /// segment lives.
    pub(crate) fn body(&self) -> Region {
        body(&self.seg)
    }

    /// This participant's index in the table (stable while joined).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Live participants with `role`.
    pub fn count_live(&self, role: u32) -> u32 {
        table(&self.seg).count_live(role)
    }

    /// The table's change counter: it grows after every join, leave or
    /// freed dead entry, and at every [`touch`](Self::touch). Comparing it
    /// with the last value seen is one load.
    pub fn changes(&self) -> u64 {
        // Acquire: pairs with the Release increment in `Table::changed`.
        table(&self.seg).changes().load(Ordering::Acquire)
    }

    /// Bumps the change counter and wakes its waiters: for a participant
    /// that made something others find through the table (a publisher's
    /// ring, made after it joined).
    pub fn touch(&self) {
        table(&self.seg).changed();
    }

    /// `(index, pid)` of the participants registered with `role`, alive or
    /// not (a participant killed stays listed until the next join or leave
    /// frees its entry).
    pub fn members(&self, role: u32) -> Vec<(u32, u32)> {
        table(&self.seg).members(role)
    }

    /// Arms `watch` (see [`crate::bells`]) on the change counter: its bell
    /// rings at the next change. The caller then compares
    /// [`changes`](Self::changes) with what it saw.
    #[cfg(not(loom))]
    pub fn arm(&self, watch: &mut crate::bells::Watch) {
        watch.arm(&table(&self.seg).event());
    }

    /// How claims in this segment name participants; valid while `self` is.
    pub fn peers(&self) -> Peers {
        let table = table(&self.seg);
        Peers {
            table,
            me: claim_token(self.index, table.start(self.index).load(Ordering::Relaxed)),
        }
    }
}

/// The region after the participant table (`region_len >= TABLE_LEN` was
/// checked on join, or set on create).
fn body(seg: &Segment) -> Region {
    seg.region().tail(TABLE_LEN)
}

/// The body of a shared segment opened without joining it (the doorbell
/// board, as a notifier sees it).
// Used by modules the loom build leaves out (multi-publisher, bells).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn body_of(seg: &Segment) -> Region {
    body(seg)
}

/// `true` if `linger` keeps the segment (called under its lock).
fn lingers(seg: &Segment, linger: Option<Linger>) -> bool {
    // The body lies inside the mapping `seg` keeps alive during the call.
    linger.is_some_and(|keep| keep(body(seg)))
}

/// The participant table (`region_len >= TABLE_LEN`, as for `body`).
fn table(seg: &Segment) -> Table {
    Table::at(seg.region()).expect("a shared segment's region holds its table")
}

/// Under the lock: joins an existing segment, or unlinks it if all its
/// participants are dead and `linger` does not keep it (`Ok(None)`: create again).
fn join_existing(
    spec: &CreateSpec<'_>,
    file: &str,
    role: u32,
    linger: Option<Linger>,
) -> Result<Option<SharedSegment>, CreateError> {
    let Some(fd) = open_checked(spec.name, file).map_err(|e| CreateError::Existing(Box::new(e)))?
    else {
        return Ok(None);
    };
    let io = |op: &'static str| {
        let name = spec.name.to_owned();
        move |source| CreateError::Io { name, op, source }
    };
    // Waits out a creator still initializing (it holds the lock).
    if !platform::lock_exclusive(&fd, STALE_LOCK_WAIT).map_err(io("flock"))? {
        return Err(CreateError::InUse {
            name: spec.name.to_owned(),
            pid: 0,
        });
    }
    let st = platform::fstat(&fd).map_err(io("fstat"))?;
    let (len, inode) = (st.len, st.inode);
    if platform::shm_inode(file) != Some(inode) {
        return Ok(None); // replaced meanwhile
    }
    let stale = || {
        let _ = platform::shm_unlink(file);
        platform::unlock(&fd);
        Ok(None)
    };
    match looks(&fd, len).map_err(io("read"))? {
        // Its creator died before writing the header, or it was cut short.
        Looks::Blank => return stale(),
        Looks::Segment if len < HEADER_LEN as u64 => return stale(),
        Looks::Segment => {}
        Looks::Foreign => {
            platform::unlock(&fd);
            return Err(foreign(spec.name, file, len));
        }
    }
    let now = Instant::now();
    let open = OpenSpec {
        name: spec.name,
        role: spec.role,
        kind: spec.kind,
        timeout: Duration::ZERO,
    };
    let seg = match map_validated(&open, &fd, file, len, now, Some(now)) {
        Ok(seg) => seg,
        Err(OpenError::NotReady { .. }) => return stale(), // creator died mid-init
        Err(e) => {
            platform::unlock(&fd);
            return Err(CreateError::Existing(Box::new(e)));
        }
    };
    // The check an opener makes (the structural hash, not the type's
    // name), so a creator that joins is told the same: the first differing
    // field on both sides.
    let mismatch = match spec.payload {
        Payload::Dynamic => seg.check_payload(None, spec.kind.noun()).err(),
        Payload::Typed { descriptor, .. } => {
            match crate::layout::LayoutDescriptor::decode(descriptor) {
                Ok(ours) => seg.check_payload(Some(&ours), spec.kind.noun()).err(),
                Err(e) => Some(OpenError::Incompatible {
                    name: spec.name.to_owned(),
                    reason: format!("our own layout descriptor does not decode: {e}"),
                }),
            }
        }
    };
    let mismatch = mismatch.or_else(|| {
        (seg.region_len < TABLE_LEN).then(|| OpenError::Corrupt {
            name: spec.name.to_owned(),
            reason: format!(
                "its region of {} bytes cannot hold the participant table ({TABLE_LEN} bytes)",
                seg.region_len
            ),
        })
    });
    if let Some(e) = mismatch {
        platform::unlock(&fd);
        return Err(CreateError::Existing(Box::new(e)));
    }
    let t = table(&seg);
    if t.prune() == 0 && !lingers(&seg, linger) {
        return stale();
    }
    let index = t.register(role);
    platform::unlock(&fd);
    let index = index.ok_or_else(|| {
        CreateError::Existing(Box::new(OpenError::Full {
            name: spec.name.to_owned(),
            max: MAX_PARTICIPANTS,
        }))
    })?;
    Ok(Some(SharedSegment {
        seg,
        fd,
        index,
        linger,
    }))
}

impl Drop for SharedSegment {
    fn drop(&mut self) {
        // Leave under the lock; the last one out removes the segment.
        let locked = platform::lock_exclusive(&self.fd, STALE_LOCK_WAIT).unwrap_or(false);
        let t = table(&self.seg);
        // Acquire/Release: as in `register` and `prune`.
        if t.pid(self.index).load(Ordering::Acquire) == platform::pid() {
            t.pid(self.index).store(0, Ordering::Release);
            t.changed();
        }
        if locked {
            if t.prune() == 0 && !self.seg.is_replaced() && !lingers(&self.seg, self.linger) {
                let _ = platform::shm_unlink(&self.seg.file);
            }
            platform::unlock(&self.fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_freed_by_a_participant_started_in_the_same_tick_is_not_reused() {
        // Before: a puller killed within a clock tick (10 ms) of its start,
        // replaced at once, could be replaced in the same tick: the new one
        // took the dead one's entry with the same start time, hence its
        // claim token, and the dead one's claimed cell stayed "alive" (the
        // chaos suite's long run, seed 91354376877553, round 173: pushers
        // found the queue full for as long as the new puller lived).
        let mut heap = vec![0u64; TABLE_LEN / 8 + 8];
        let base = (heap.as_mut_ptr() as usize).div_ceil(64) * 64;
        // SAFETY: `base` is 64-aligned with TABLE_LEN zeroed bytes inside
        // `heap`, which outlives every use below.
        let region = unsafe { Region::new(base as *mut u8, TABLE_LEN) };
        let first = Peers::register_in(region, 2);
        let start = platform::process_start_time(platform::pid()).unwrap();
        // It died: its entry is free, its start time left in it.
        let dead = first.fake_entry(0, 0, start);
        assert_eq!(dead, first.me());
        let next = Peers::register_in(region, 2);
        assert_ne!(
            next.me(),
            dead,
            "the new participant took the dead one's token"
        );
        assert!(!next.alive(dead));
        assert!(next.alive(next.me()));
    }

    #[test]
    fn names() {
        assert!(validate_name("robot/pose").is_ok());
        assert!(validate_name("arm/control").is_ok());
        assert!(validate_name("a.b-c_d/E9").is_ok());
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert!(matches!(
            validate_name("a b"),
            Err(NameError::BadChar {
                ch: ' ',
                pos: 1,
                ..
            })
        ));
        for bad in ["/a", "a/", "a//b", "a/../b", ".", "a/./b"] {
            assert!(
                matches!(validate_name(bad), Err(NameError::BadComponent { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_name(&"x".repeat(101)),
            Err(NameError::TooLong { .. })
        ));
        let f = file_name("robot/pose.v2", "pub").unwrap();
        assert!(f.ends_with("robot%2Fpose%2Ev2.pub"), "{f}");
        assert_eq!(
            parse_file_name(&f),
            Some(("robot/pose.v2".to_owned(), "pub".to_owned()))
        );
    }

    #[test]
    fn openers_wait_for_publish_and_an_unpublished_segment_is_removed() {
        let name = format!("unit/unpublished-{}", platform::pid());
        let spec = CreateSpec {
            name: &name,
            role: "pub",
            kind: ChannelKind::PubSub,
            payload: &Payload::Dynamic,
            region_len: 8192,
        };
        let open = OpenSpec {
            name: &name,
            role: "pub",
            kind: ChannelKind::PubSub,
            timeout: Duration::from_millis(20),
        };
        let new = OwnedSegment::create(&spec).unwrap();
        new.region().u64_at(0).store(7, Ordering::Relaxed);
        // `init` is not READY yet: openers wait, then give up.
        assert!(matches!(
            Segment::open(&open),
            Err(OpenError::NotReady { .. })
        ));
        drop(new);
        assert!(matches!(
            Segment::open(&open),
            Err(OpenError::NotFound { .. })
        ));
        let new = OwnedSegment::create(&spec).unwrap();
        new.region().u64_at(0).store(7, Ordering::Relaxed);
        let owned = new.publish();
        let seg = Segment::open(&open).unwrap();
        assert_eq!(seg.region().len(), 8192);
        assert_eq!(seg.region().u64_at(0).load(Ordering::Relaxed), 7);
        drop(owned);
        assert!(seg.is_closed());
    }
}
