//! Error types, one per operation (create, open, send, receive), each variant
//! saying when it happens. Imports nothing from the rest of the crate.

use std::io;
use std::time::Duration;

/// A channel name that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than the limit.
    #[error("channel name {name:?} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name has a character outside `A-Z a-z 0-9 _ - . /`.
    #[error("channel name {name:?} has the character {ch:?} at byte {pos}; allowed are letters, digits, '_', '-', '.' and '/' between components")]
    BadChar {
        /// The name.
        name: String,
        /// The offending character.
        ch: char,
        /// Its byte offset.
        pos: usize,
    },
    /// The name starts or ends with `/`, has `//`, or a `.`/`..` component.
    #[error("channel name {name:?} has an empty, '.' or '..' component (names look like \"robot/pose\")")]
    BadComponent {
        /// The name.
        name: String,
    },
}

/// Why a channel could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The name is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A live process already owns a channel of this name.
    #[error("channel {name:?} is already owned by live process {pid}; a channel has one owner (publisher, replier or queue creator)")]
    InUse {
        /// The channel name.
        name: String,
        /// The owner's process id.
        pid: u32,
    },
    /// The requested geometry is unusable (zero slots, slot too large, ...).
    #[error("invalid configuration for channel {name:?}: {reason}")]
    Config {
        /// The channel name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The channel exists (with live participants) but cannot be joined.
    #[error(transparent)]
    Existing(Box<OpenError>),
    /// The segment's memory could not be reserved: the shared-memory
    /// directory is full (`ENOSPC`; a container's `/dev/shm` is 64 MiB unless
    /// `--shm-size` says otherwise), or the size exceeds the process's file
    /// size limit (`EFBIG`, `RLIMIT_FSIZE`). Nothing was created.
    #[error(
        "channel {name:?} needs {bytes} bytes of shared memory that could not be reserved in {dir}: {source} \
         (free space with `df -h {dir}`; in a container /dev/shm is 64 MiB unless the container is \
         started with a larger one, e.g. `docker run --shm-size=512m`; or make the channel smaller: \
         fewer slots, smaller messages)"
    )]
    NoSpace {
        /// The channel name.
        name: String,
        /// The size of the segment asked for, in bytes.
        bytes: u64,
        /// The shared-memory directory.
        dir: String,
        /// The OS error (`ENOSPC`, `EFBIG`, ...).
        source: io::Error,
    },
    /// A system call failed.
    #[error("{op} failed for channel {name:?}: {source}")]
    Io {
        /// The channel name.
        name: String,
        /// The operation (`open`, `fallocate`, `mmap`, ...).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// Why a channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The name is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// No channel of this name appeared within the connect timeout.
    #[error("channel {name:?} does not exist (waited {waited:?} for its creator)")]
    NotFound {
        /// The channel name.
        name: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The segment exists but its creator did not finish initializing it in time.
    #[error("channel {name:?} was not initialized by its creator (pid {pid}) within {waited:?}")]
    NotReady {
        /// The channel name.
        name: String,
        /// The creator's pid as far as it could be read (0 if not written yet).
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// The file at the channel's path is not this user's to trust: another
    /// user owns it, others may read or write it (group or other permission
    /// bits), or it is not a regular file. Nothing in it was read, and it
    /// was left in place.
    #[error("channel {name:?} is not ours: its file {file} is owned by uid {owner} with mode {mode:04o} (ours are owned by uid {expected} with mode 0600); nothing in it was read and it was left in place")]
    NotOwned {
        /// The channel name.
        name: String,
        /// The file's path.
        file: String,
        /// The file's owner.
        owner: u32,
        /// The file's permission bits (and 0o170000 set for a non-regular file).
        mode: u32,
        /// Our effective user id.
        expected: u32,
    },
    /// The segment is not a valid shm-comm segment, or is damaged.
    #[error("channel {name:?} is corrupt or foreign: {reason}")]
    Corrupt {
        /// The channel name.
        name: String,
        /// Which check failed, with the value read.
        reason: String,
    },
    /// The segment is valid but of another kind, version or platform.
    #[error("channel {name:?} is incompatible: {reason}")]
    Incompatible {
        /// The channel name.
        name: String,
        /// What differs, naming both sides.
        reason: String,
    },
    /// The channel already has its maximum number of participants.
    #[error("channel {name:?} already has its maximum of {max} participants")]
    Full {
        /// The channel name.
        name: String,
        /// The limit.
        max: u32,
    },
    /// The channel carries another message type. Where both types have the
    /// same name (two crates' `Job`), the message shows their hashes too.
    #[error(
        "channel {name:?} carries {} but {} was expected; first difference (ours vs theirs): {difference}",
        type_shown(.theirs, .theirs_hash, .ours),
        type_shown(.ours, .ours_hash, .theirs)
    )]
    LayoutMismatch {
        /// The channel name.
        name: String,
        /// Our type name.
        ours: String,
        /// The type name stored in the segment.
        theirs: String,
        /// Our layout's structural hash.
        ours_hash: u64,
        /// The structural hash stored in the segment.
        theirs_hash: u64,
        /// The first differing field on both sides.
        difference: String,
    },
    /// A system call failed.
    #[error("{op} failed for channel {name:?}: {source}")]
    Io {
        /// The channel name.
        name: String,
        /// The operation.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// A type's name in a mismatch message, with its hash if the other side's
/// type has the same name (otherwise the two would read alike).
fn type_shown(name: &str, hash: &u64, other: &str) -> String {
    if name == other {
        format!("`{name}` (hash {hash:#018x})")
    } else {
        format!("`{name}`")
    }
}

/// Why a message could not be sent; carries nothing back when the payload is
/// borrowed (`send_bytes`), see the pattern modules for variants that return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The payload is larger than the channel's slot; nothing was sent or truncated.
    #[error("message of {len} bytes exceeds the channel's limit of {max} bytes per message")]
    TooLarge {
        /// The payload size.
        len: usize,
        /// The channel's maximum payload.
        max: usize,
    },
    /// A typed channel's frame must be exactly one message.
    #[error("frame of {len} bytes on a typed channel of {expected}-byte messages")]
    WrongSize {
        /// The payload size.
        len: usize,
        /// The message size.
        expected: usize,
    },
    /// Every spare slot is borrowed by subscribers beyond the channel's borrow
    /// budget (only possible if a peer ignores the budget).
    #[error("no free slot: all spare slots are borrowed")]
    NoFreeSlot,
    /// A loaned slot is still open: send or drop it first.
    #[error("a loaned slot is still open: send or drop it before sending again")]
    LoanOpen,
    /// The payload could not be encoded.
    #[error("could not encode message: {0}")]
    Encode(String),
    /// A variable-size message of more elements than the topic's maximum
    /// (and the publisher may not grow it); nothing was sent.
    #[error("message of {len} elements exceeds the topic's maximum of {max}")]
    TooLong {
        /// The elements asked for.
        len: usize,
        /// The topic's maximum.
        max: usize,
    },
    /// A variable-size topic could not grow to a larger maximum (the
    /// reason from creating its next segment); nothing was sent.
    #[error("could not grow the topic: {0}")]
    Grow(String),
}

/// Why `try_recv` returned no message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No new message.
    #[error("no message available")]
    Empty,
    /// A peer wrote something inconsistent into the channel.
    #[error("channel data is corrupt: {0}")]
    Corrupt(String),
}

/// Why a blocking receive returned no message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the deadline.
    #[error("timed out waiting for a message")]
    Timeout,
    /// A peer wrote something inconsistent into the channel.
    #[error("channel data is corrupt: {0}")]
    Corrupt(String),
}

impl From<TryRecvError> for RecvTimeoutError {
    fn from(e: TryRecvError) -> Self {
        match e {
            TryRecvError::Empty => RecvTimeoutError::Timeout,
            TryRecvError::Corrupt(s) => RecvTimeoutError::Corrupt(s),
        }
    }
}

/// Why a message could not be borrowed in place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BorrowError {
    /// No new message.
    #[error("no message available")]
    Empty,
    /// This subscriber or the whole channel already holds its maximum number
    /// of borrowed samples; drop one first.
    #[error("borrow limit reached ({limit} samples)")]
    Limit {
        /// The limit that was hit.
        limit: u32,
    },
    /// A peer wrote something inconsistent into the channel.
    #[error("channel data is corrupt: {0}")]
    Corrupt(String),
}

impl From<TryRecvError> for BorrowError {
    fn from(e: TryRecvError) -> Self {
        match e {
            TryRecvError::Empty => BorrowError::Empty,
            TryRecvError::Corrupt(s) => BorrowError::Corrupt(s),
        }
    }
}

/// A received frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame was sent with another codec.
    #[error("frame was encoded as {found}, not {expected}")]
    WrongCodec {
        /// What the caller asked for.
        expected: &'static str,
        /// What the frame is tagged with.
        found: String,
    },
    /// The bytes do not decode.
    #[error("could not decode {codec} frame: {reason}")]
    Invalid {
        /// The codec.
        codec: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

/// Why a blocking receive without a deadline returned no message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// A peer wrote something inconsistent into the channel.
    #[error("channel data is corrupt: {0}")]
    Corrupt(String),
}

/// A wait without a deadline ended: only corruption ends it (a timeout
/// there would be a bug, reported rather than hidden).
pub(crate) fn forever(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Corrupt(s) => RecvError::Corrupt(s),
        RecvTimeoutError::Timeout => RecvError::Corrupt("timed out without a deadline".into()),
    }
}

/// Why `try_send` on a typed queue did not send; gives the job back
/// ([`into_inner`](Self::into_inner)).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The queue is full (backpressure): try again later.
    #[error("queue is full")]
    Full(T),
    /// The queue's shared state is impossible (a peer wrote garbage into
    /// it); gives the job back and says what was found. The damage in
    /// the way is repaired where it can be, so a later send may succeed.
    #[error("queue data is corrupt: {1}")]
    Corrupt(T, String),
}

/// Why `send_timeout` on a typed queue did not send; gives the job back
/// ([`into_inner`](Self::into_inner)).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendTimeoutError<T> {
    /// The queue stayed full until the deadline.
    #[error("queue stayed full until the timeout")]
    Timeout(T),
    /// The queue's shared state is impossible (a peer wrote garbage into
    /// it); gives the job back and says what was found (see
    /// [`TrySendError::Corrupt`]).
    #[error("queue data is corrupt: {1}")]
    Corrupt(T, String),
}

/// Why a send that waits as long as it takes for room (`Pusher::send`)
/// did not send: only a corrupt queue ends it. Gives the job back
/// ([`into_inner`](Self::into_inner)).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockingSendError<T> {
    /// The queue's shared state is impossible (a peer wrote garbage into
    /// it); gives the job back and says what was found (see
    /// [`TrySendError::Corrupt`]).
    #[error("queue data is corrupt: {1}")]
    Corrupt(T, String),
}

impl<T> TrySendError<T> {
    /// The job that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Corrupt(t, _) => t,
        }
    }
}

impl<T> SendTimeoutError<T> {
    /// The job that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(t) | SendTimeoutError::Corrupt(t, _) => t,
        }
    }
}

impl<T> BlockingSendError<T> {
    /// The job that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            BlockingSendError::Corrupt(t, _) => t,
        }
    }
}

impl<T> std::fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Corrupt(_, why) => write!(f, "Corrupt(.., {why:?})"),
        }
    }
}

impl<T> std::fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Corrupt(_, why) => write!(f, "Corrupt(.., {why:?})"),
        }
    }
}

impl<T> std::fmt::Debug for BlockingSendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockingSendError::Corrupt(_, why) => write!(f, "Corrupt(.., {why:?})"),
        }
    }
}

/// Why `try_send` on a dynamic queue did not send the frame (borrowed, so
/// nothing to give back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynTrySendError {
    /// The queue is full (backpressure): try again later.
    #[error("queue is full")]
    Full,
    /// The frame is larger than the queue's slots; nothing was sent or truncated.
    #[error("message of {len} bytes exceeds the channel's limit of {max} bytes per message")]
    TooLarge {
        /// The frame size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The queue's shared state is impossible (see [`TrySendError::Corrupt`]).
    #[error("queue data is corrupt: {0}")]
    Corrupt(String),
}

/// Why a send with a deadline on a dynamic queue did not send the frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynSendTimeoutError {
    /// The queue stayed full until the deadline.
    #[error("queue stayed full until the timeout")]
    Timeout,
    /// The frame is larger than the queue's slots; nothing was sent or truncated.
    #[error("message of {len} bytes exceeds the channel's limit of {max} bytes per message")]
    TooLarge {
        /// The frame size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The queue's shared state is impossible (see [`TrySendError::Corrupt`]).
    #[error("queue data is corrupt: {0}")]
    Corrupt(String),
}
