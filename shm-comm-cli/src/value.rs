//! Decoding a message's bytes into a JSON value: typed messages through
//! the layout stored in their segment, dynamic frames by their codec.
//!
//! The bytes come from another process and the layout from shared
//! memory: every slice is taken with a bounds check, and a field that
//! does not fit the message decodes to a `"<corrupt: ...>"` string
//! instead of a panic.

use serde_json::{json, Map, Value};
use shm_comm::{Codec, Kind, LayoutDescriptor, Scalar, TypeDesc};

/// How much of a message to show.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Show {
    /// Arrays longer than this are summarized (length, first elements,
    /// and min, max and mean for numbers).
    pub max_array: usize,
    /// Arrays (and bounded vectors) replaced by their type.
    pub no_arr: bool,
    /// Pickle frames shown as bytes (never unpickled: the CLI is Rust).
    pub allow_pickle: bool,
}

/// Bytes shown of raw frames, pickles and opaque fields.
const HEX_PREVIEW: usize = 32;
/// Elements kept in the summary of a long array.
const SUMMARY_HEAD: usize = 8;

fn corrupt(what: &str) -> Value {
    Value::String(format!("<corrupt: {what}>"))
}

/// `bytes` as hex, at most `max` of them (then `...`).
pub(crate) fn hex(bytes: &[u8], max: usize) -> String {
    let mut s: String = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// A typed message: one JSON object with a member per field.
pub(crate) fn decode_typed(layout: &LayoutDescriptor, bytes: &[u8], show: &Show) -> Value {
    if bytes.len() < layout.size as usize {
        return corrupt(&format!(
            "message of {} bytes, layout `{}` needs {}",
            bytes.len(),
            layout.name,
            layout.size
        ));
    }
    decode_struct(layout, bytes, show)
}

fn decode_struct(layout: &LayoutDescriptor, bytes: &[u8], show: &Show) -> Value {
    let mut m = Map::new();
    for f in &layout.fields {
        let at = f.offset as usize;
        let v = match at
            .checked_add(f.ty.size as usize)
            .and_then(|end| bytes.get(at..end))
        {
            Some(b) => decode_type(&f.ty, b, show),
            None => corrupt(&format!(
                "field at {}+{} outside the message",
                at, f.ty.size
            )),
        };
        m.insert(f.name.clone(), v);
    }
    Value::Object(m)
}

fn decode_type(ty: &TypeDesc, bytes: &[u8], show: &Show) -> Value {
    if !ty.shape.is_empty() && show.no_arr {
        return Value::String(format!("<{ty}>"));
    }
    decode_shape(&ty.kind, &ty.shape, bytes, show)
}

/// An array of `shape` (outermost first) of `kind`, or one `kind` if
/// `shape` is empty, in `bytes`.
fn decode_shape(kind: &Kind, shape: &[u32], bytes: &[u8], show: &Show) -> Value {
    let Some((&n, inner)) = shape.split_first() else {
        return decode_kind(kind, bytes, show);
    };
    let elem = inner.iter().try_fold(
        u64::from(kind.checked_size().unwrap_or(u32::MAX)),
        |acc, &d| acc.checked_mul(u64::from(d)),
    );
    let n = n as usize;
    match elem {
        Some(e) if e.checked_mul(n as u64) == Some(bytes.len() as u64) => {
            let e = e as usize;
            array(n, show, |i| {
                decode_shape(kind, inner, &bytes[i * e..(i + 1) * e], show)
            })
        }
        _ => corrupt("array size does not match its shape"),
    }
}

/// `n` elements made by `elem`, summarized past `show.max_array`.
fn array(n: usize, show: &Show, elem: impl Fn(usize) -> Value) -> Value {
    if n <= show.max_array {
        return Value::Array((0..n).map(elem).collect());
    }
    let mut summary = Map::new();
    summary.insert("len".into(), n.into());
    summary.insert(
        "head".into(),
        Value::Array((0..SUMMARY_HEAD.min(n)).map(&elem).collect()),
    );
    let nums: Option<Vec<f64>> = (0..n).map(|i| elem(i).as_f64()).collect();
    if let Some(nums) = nums {
        let min = nums.iter().copied().fold(f64::INFINITY, f64::min);
        let max = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = nums.iter().sum::<f64>() / n as f64;
        summary.insert("min".into(), json!(min));
        summary.insert("max".into(), json!(max));
        summary.insert("mean".into(), json!(mean));
    }
    Value::Object(summary)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn decode_kind(kind: &Kind, bytes: &[u8], show: &Show) -> Value {
    match kind {
        Kind::Scalar(s) => scalar(*s, bytes).unwrap_or_else(|| corrupt("short scalar")),
        Kind::Struct(l) => decode_struct(l, bytes, show),
        Kind::FixedString { capacity } => {
            let Some(len) = u32_at(bytes, 0) else {
                return corrupt("short string");
            };
            if len > *capacity {
                return corrupt(&format!("string length {len} > capacity {capacity}"));
            }
            match bytes.get(4..4 + len as usize) {
                Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
                None => corrupt("string outside the field"),
            }
        }
        Kind::FixedVec { elem, capacity } => {
            let Some(len) = u32_at(bytes, 0) else {
                return corrupt("short vector");
            };
            if len > *capacity {
                return corrupt(&format!("vector length {len} > capacity {capacity}"));
            }
            if show.no_arr {
                return Value::String(format!("<{len} of {elem}>"));
            }
            let e = elem.size as usize;
            let fits = e
                .checked_mul(len as usize)
                .and_then(|n| n.checked_add(8))
                .is_some_and(|end| end <= bytes.len());
            if !fits {
                return corrupt("vector outside the field");
            }
            array(len as usize, show, |i| {
                let at = 8 + i * e;
                decode_type(elem, &bytes[at..at + e], show)
            })
        }
        Kind::Opaque { .. } => Value::String(hex(bytes, bytes.len().min(4 * HEX_PREVIEW))),
    }
}

fn scalar(s: Scalar, b: &[u8]) -> Option<Value> {
    macro_rules! num {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            json!(<$t>::from_ne_bytes(b.get(..N)?.try_into().ok()?))
        }};
    }
    Some(match s {
        Scalar::U8 => num!(u8),
        Scalar::U16 => num!(u16),
        Scalar::U32 => num!(u32),
        Scalar::U64 => num!(u64),
        Scalar::I8 => num!(i8),
        Scalar::I16 => num!(i16),
        Scalar::I32 => num!(i32),
        Scalar::I64 => num!(i64),
        // NaN and infinities have no JSON number: they become null.
        Scalar::F32 => num!(f32),
        Scalar::F64 => num!(f64),
        Scalar::Flag => Value::Bool(*b.first()? != 0),
    })
}

/// A dynamic frame: msgpack decoded, raw bytes as length and hex, a
/// pickle never unpickled.
pub(crate) fn decode_frame(codec: Codec, bytes: &[u8], show: &Show) -> Value {
    let bytes_of = |what: &str| json!({ what: bytes.len(), "hex": hex(bytes, HEX_PREVIEW) });
    match codec {
        Codec::MsgPack => match shm_comm::codec::from_msgpack::<Value>(bytes) {
            Ok(v) => v,
            Err(e) => {
                let mut v = bytes_of("msgpack_bytes");
                v["error"] = Value::String(format!("not decodable as JSON: {e}"));
                v
            }
        },
        Codec::Pickle if show.allow_pickle => bytes_of("pickle_bytes"),
        Codec::Pickle => json!({
            "pickle_bytes": bytes.len(),
            "note": "pickle frame not unpickled (loading a pickle runs its code); --allow-pickle shows its bytes",
        }),
        Codec::Raw => bytes_of("bytes"),
        other => bytes_of(&format!("{}_bytes", other.name())),
    }
}

/// One step of a `--field` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Parses a field path such as `pose.position[2]` or `grid[1][0]`.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.is_empty() && steps.is_empty() {
            return Err(format!("field path `{path}` must start with a field name"));
        }
        if !key.is_empty() {
            steps.push(Step::Key(key.to_owned()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| format!("field path `{path}`: expected `[index]` in `{part}`"))?;
            let i = rest[1..close].parse().map_err(|_| {
                format!("field path `{path}`: `{}` is not an index", &rest[1..close])
            })?;
            steps.push(Step::Index(i));
            rest = &rest[close + 1..];
        }
    }
    Ok(steps)
}

/// The part of `v` that `steps` names, or an error naming what is there.
pub(crate) fn select<'a>(v: &'a Value, steps: &[Step]) -> Result<&'a Value, String> {
    let mut cur = v;
    for s in steps {
        cur = match (s, cur) {
            (Step::Key(k), Value::Object(m)) => m.get(k).ok_or_else(|| {
                let names: Vec<&str> = m.keys().map(String::as_str).collect();
                format!("no field `{k}` (fields: {})", names.join(", "))
            })?,
            (Step::Index(i), Value::Array(a)) => a
                .get(*i)
                .ok_or_else(|| format!("index {i} out of range (length {})", a.len()))?,
            (Step::Key(k), _) => return Err(format!("`{k}`: not a struct here")),
            (Step::Index(i), _) => return Err(format!("[{i}]: not an array here")),
        };
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_keys_and_indices() {
        use Step::*;
        assert_eq!(
            parse_path("a.b[2]").unwrap(),
            [Key("a".into()), Key("b".into()), Index(2)]
        );
        assert_eq!(
            parse_path("grid[1][0]").unwrap(),
            [Key("grid".into()), Index(1), Index(0)]
        );
        assert!(parse_path("[1]").is_err());
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a[1").is_err());
    }

    #[test]
    fn a_field_outside_the_message_is_reported_not_read() {
        use shm_comm::FieldDescriptor;
        let l = LayoutDescriptor::new(
            "Bad",
            8,
            8,
            vec![FieldDescriptor::new("x", 8, TypeDesc::scalar(Scalar::U64))],
        );
        let show = Show {
            max_array: 8,
            no_arr: false,
            allow_pickle: false,
        };
        let v = decode_struct(&l, &[0u8; 8], &show);
        assert!(v["x"].as_str().unwrap().starts_with("<corrupt"));
    }
}
