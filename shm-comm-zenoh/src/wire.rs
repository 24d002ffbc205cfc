//! The small header every bridged message carries as its Zenoh
//! attachment, and the key space under a domain.
//!
//! # Key space
//! Under a domain prefix `D` (default `shm`):
//! - `D/<topic name>`: a topic's samples, the payload being the slot's raw
//!   bytes (a typed message exactly as laid out in shared memory, or a
//!   dynamic frame), the attachment a [`Header`] of kind [`Kind::Sample`].
//! - `D/@layout/<hash>`: a queryable per bridge that answers with the
//!   encoded layout descriptor whose structural hash is `<hash>` (16 hex
//!   digits), for every layout that bridge exports.
//! - `D/@svc/<service name>`: a service's calls (queries; payload the
//!   request, reply payload the reply).
//! - `D/@queue/<queue name>`: jobs pushed into a queue (queries, acknowledged
//!   once the job is in the queue).
//! - `D/@live/<bridge id>/<topic|service|queue>/<name>`: liveliness tokens
//!   of what each bridge offers.
//!
//! Chunks that start with `@` are verbatim in Zenoh: wildcards never match
//! them, so a subscriber on `D/**` sees topics only. A later ROS 2 profile
//! can take its own prefix (rmw_zenoh's `<domain id>/<topic>/<type>/<hash>`)
//! beside this one.
//!
//! # Header
//! 40 bytes, little-endian:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | magic `SHMZ` |
//! | 4 | 1 | version (1) |
//! | 5 | 1 | kind ([`Kind`]) |
//! | 6 | 2 | codec tag (`shm_comm::Codec::tag`) |
//! | 8 | 8 | layout hash (0: dynamic) |
//! | 16 | 8 | sequence number (per origin and name, from 0) |
//! | 24 | 8 | origin: the id of the bridge that read it from shared memory |
//! | 32 | 4 | `a`: ring capacity (samples), timeout in ms (calls) |
//! | 36 | 4 | `b`: largest payload in bytes |

use std::fmt;

use shm_comm::Codec;

/// The magic at the start of every header.
pub const MAGIC: [u8; 4] = *b"SHMZ";
/// The header's version.
pub const VERSION: u8 = 1;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 40;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A topic sample (`a`: the source ring's capacity, `b`: its largest
    /// payload).
    Sample = 1,
    /// A service call (`a`: the caller's timeout in ms).
    Call = 2,
    /// A service's reply.
    Reply = 3,
    /// A job for a queue.
    Job = 4,
    /// A request for what a service or queue carries (no payload); the
    /// reply's payload is the encoded layout (empty: dynamic) and its `b`
    /// the largest payload.
    Describe = 5,
}

/// The attachment of a bridged message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the message is.
    pub kind: Kind,
    /// How the payload is encoded (typed topics: raw).
    pub codec: Codec,
    /// The structural hash of the payload's layout, 0 for dynamic frames.
    pub hash: u64,
    /// Per origin and name, counting from 0.
    pub seq: u64,
    /// The bridge that read the message from shared memory.
    pub origin: u64,
    /// Kind-specific (see the module docs).
    pub a: u32,
    /// Kind-specific (see the module docs).
    pub b: u32,
}

/// Why bytes are not a [`Header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader(pub String);

impl fmt::Display for BadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad bridge header: {}", self.0)
    }
}

impl std::error::Error for BadHeader {}

impl Header {
    /// A header of `kind` from `origin`, everything else zero (raw codec).
    pub fn new(kind: Kind, origin: u64) -> Header {
        Header {
            kind,
            codec: Codec::Raw,
            hash: 0,
            seq: 0,
            origin,
            a: 0,
            b: 0,
        }
    }

    /// The 40 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.kind as u8;
        // Codec tags are small (0..=2); two bytes leave room.
        out[6..8].copy_from_slice(&(self.codec.tag() as u16).to_le_bytes());
        out[8..16].copy_from_slice(&self.hash.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.origin.to_le_bytes());
        out[32..36].copy_from_slice(&self.a.to_le_bytes());
        out[36..40].copy_from_slice(&self.b.to_le_bytes());
        out
    }

    /// Reads a header written by another bridge: every field is checked.
    pub fn decode(bytes: &[u8]) -> Result<Header, BadHeader> {
        if bytes.len() != HEADER_LEN {
            return Err(BadHeader(format!(
                "{} bytes, expected {HEADER_LEN}",
                bytes.len()
            )));
        }
        if bytes[0..4] != MAGIC {
            return Err(BadHeader("wrong magic".into()));
        }
        if bytes[4] != VERSION {
            return Err(BadHeader(format!(
                "version {}, this bridge speaks {VERSION}",
                bytes[4]
            )));
        }
        let kind = match bytes[5] {
            1 => Kind::Sample,
            2 => Kind::Call,
            3 => Kind::Reply,
            4 => Kind::Job,
            5 => Kind::Describe,
            k => return Err(BadHeader(format!("unknown kind {k}"))),
        };
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[i..i + 4]);
            u32::from_le_bytes(b)
        };
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        Ok(Header {
            kind,
            // An unknown tag passes through as `Codec::Other`: receivers
            // decode only the codecs their channel allows.
            codec: Codec::from_tag(u32::from(u16_at(6))),
            hash: u64_at(8),
            seq: u64_at(16),
            origin: u64_at(24),
            a: u32_at(32),
            b: u32_at(36),
        })
    }
}

/// The key of layout `hash` under `domain`.
pub fn layout_key(domain: &str, hash: u64) -> String {
    format!("{domain}/@layout/{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = Header {
            kind: Kind::Call,
            codec: Codec::MsgPack,
            hash: 0x0123_4567_89ab_cdef,
            seq: 42,
            origin: 7,
            a: 1500,
            b: 4096,
        };
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes), Ok(h));
        assert!(Header::decode(&bytes[..39]).is_err());
        let mut bad = bytes;
        bad[0] = b'X';
        assert!(Header::decode(&bad).is_err());
        let mut bad = bytes;
        bad[5] = 99;
        assert!(Header::decode(&bad).is_err());
        let mut bad = bytes;
        bad[4] = 2;
        assert!(Header::decode(&bad).is_err());
    }
}
