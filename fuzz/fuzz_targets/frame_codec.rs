//! Dynamic frames another process sent: the first four bytes are the codec
//! tag stored with the frame (`Codec::from_tag`), the rest its payload,
//! decoded (`Frame::decode`, which is `codec::from_msgpack` for msgpack
//! frames) into the kinds of values applications receive. Decoding may fail;
//! it must not panic, and what decodes must encode and decode back equal.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use shm_comm::codec::{self, Codec, Frame};

/// A message as an application would declare it: named fields, options,
/// nesting, an enum.
#[derive(Debug, Serialize, Deserialize)]
struct Telemetry {
    name: String,
    seq: u64,
    offset: i32,
    values: Vec<f64>,
    flags: Option<Vec<bool>>,
    #[serde(with = "bytes")]
    blob: Vec<u8>,
    by_joint: BTreeMap<String, Vec<i64>>,
    mode: Mode,
    inner: Option<Box<Telemetry>>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Mode {
    Idle,
    Moving { speed: f32 },
    Fault(u16, String),
}

/// `Vec<u8>` as msgpack `bin` (what Python sends for `bytes`).
mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let b: &[u8] = Deserialize::deserialize(d)?;
        Ok(b.to_vec())
    }
}

/// Decodes `frame` as `T`; what decodes must round-trip through msgpack
/// (compared as encodings: a NaN is not equal to itself).
fn round_trip<T>(frame: &Frame)
where
    T: serde::de::DeserializeOwned + Serialize,
{
    if let Ok(v) = frame.decode::<T>() {
        let again = codec::to_msgpack(&v).expect("a decoded value encodes");
        let back: T = codec::from_msgpack(&again).expect("an encoded value decodes");
        assert_eq!(codec::to_msgpack(&back).expect("encodes"), again);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((tag, payload)) = data.split_first_chunk::<4>() else {
        return;
    };
    let codec = Codec::from_tag(u32::from_le_bytes(*tag));
    assert_eq!(Codec::from_tag(codec.tag()), codec);
    let _ = codec.name();
    // Frames of other codecs are refused by `decode`; try the payload as
    // msgpack too, as a receiver that trusts the sender would.
    for codec in [codec, Codec::MsgPack] {
        let frame = Frame {
            codec,
            data: payload.to_vec(),
        };
        round_trip::<Telemetry>(&frame);
        round_trip::<Vec<u8>>(&frame);
        round_trip::<BTreeMap<String, f64>>(&frame);
        round_trip::<(u64, i64, String, Option<bool>)>(&frame);
        round_trip::<Mode>(&frame);
        round_trip::<Vec<Mode>>(&frame);
        let _ = frame.decode::<String>();
        let _ = frame.decode::<serde::de::IgnoredAny>();
    }
});
