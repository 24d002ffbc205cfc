//! Codecs of dynamic frames. Pure: no atomics, no system calls.
//!
//! Every frame carries a codec tag, so a receiver knows how to decode it:
//! raw bytes, msgpack (cross-language: Rust serde <-> Python objects), pickle
//! (Python only: Rust passes the bytes through) or a typed message.

use crate::error::DecodeError;

/// The codec a frame was encoded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Uninterpreted bytes.
    Raw,
    /// MessagePack.
    MsgPack,
    /// Python pickle.
    Pickle,
    /// A typed message in its in-memory layout.
    Typed,
    /// A tag this version does not know.
    Other(u32),
}

impl Codec {
    /// The tag stored with each frame.
    pub fn tag(self) -> u32 {
        match self {
            Codec::Raw => 0,
            Codec::MsgPack => 1,
            Codec::Pickle => 2,
            Codec::Typed => 3,
            Codec::Other(t) => t,
        }
    }

    /// The codec of a stored tag.
    pub fn from_tag(tag: u32) -> Codec {
        match tag {
            0 => Codec::Raw,
            1 => Codec::MsgPack,
            2 => Codec::Pickle,
            3 => Codec::Typed,
            t => Codec::Other(t),
        }
    }

    /// A short name (`"raw"`, `"msgpack"`, ...).
    pub fn name(self) -> String {
        match self {
            Codec::Raw => "raw".into(),
            Codec::MsgPack => "msgpack".into(),
            Codec::Pickle => "pickle".into(),
            Codec::Typed => "typed".into(),
            Codec::Other(t) => format!("codec #{t}"),
        }
    }
}

/// Encodes `value` as msgpack, with struct fields as maps (named), so that
/// Python receives dicts.
pub fn to_msgpack<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(value).map_err(|e| e.to_string())
}

/// Decodes msgpack bytes.
pub fn from_msgpack<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    rmp_serde::from_slice(bytes).map_err(|e| DecodeError::Invalid {
        codec: "msgpack",
        reason: e.to_string(),
    })
}

/// A received dynamic frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// How `data` is encoded.
    pub codec: Codec,
    /// The payload.
    pub data: Vec<u8>,
}

impl Frame {
    /// Decodes a msgpack frame into `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DecodeError> {
        if self.codec != Codec::MsgPack {
            return Err(DecodeError::WrongCodec {
                expected: "msgpack",
                found: self.codec.name(),
            });
        }
        from_msgpack(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for t in 0..6 {
            assert_eq!(Codec::from_tag(t).tag(), t);
        }
    }

    #[test]
    fn msgpack_round_trip_and_wrong_codec() {
        let v = vec![1u32, 2, 3];
        let f = Frame {
            codec: Codec::MsgPack,
            data: to_msgpack(&v).unwrap(),
        };
        assert_eq!(f.decode::<Vec<u32>>().unwrap(), v);
        let raw = Frame {
            codec: Codec::Raw,
            data: f.data.clone(),
        };
        assert!(matches!(
            raw.decode::<Vec<u32>>(),
            Err(DecodeError::WrongCodec { .. })
        ));
        assert!(matches!(
            Frame {
                codec: Codec::MsgPack,
                data: vec![0xc1]
            }
            .decode::<u32>(),
            Err(DecodeError::Invalid { .. })
        ));
    }
}
