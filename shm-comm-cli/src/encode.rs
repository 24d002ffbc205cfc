//! Encoding a JSON value into a typed message's bytes, by its layout: the
//! other direction of [`crate::value::decode_typed`].
//!
//! A JSON object sets fields by name; fields left out are zero (padding
//! fields such as `_pad` need not be given). Every value is checked
//! against its field before a byte is written to a topic: a wrong type, a
//! number out of range, a string or a vector over its capacity, an array
//! of the wrong length and an unknown field are errors that name the
//! field (`pose.position.x: ...`).
//!
//! The layout may come from shared memory (`--like`): every offset and
//! size is checked against the message before it is used.

use serde_json::Value;
use shm_comm::{Kind, LayoutDescriptor, Scalar, TypeDesc};

/// `v` (a JSON object) as the bytes of one message of `layout`.
pub(crate) fn encode_typed(layout: &LayoutDescriptor, v: &Value) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; layout.size as usize];
    encode_struct(layout, v, &mut out, "")?;
    Ok(out)
}

/// `path.name`, or `name` at the top.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// What a JSON value is, for error messages: its type and a short preview.
fn what(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(a) => return format!("an array of {}", a.len()),
        Value::Object(_) => return "an object".into(),
    };
    let mut s = v.to_string();
    if s.len() > 40 {
        s.truncate(40);
        s.push_str("...");
    }
    format!("{kind} ({s})")
}

fn encode_struct(
    layout: &LayoutDescriptor,
    v: &Value,
    out: &mut [u8],
    path: &str,
) -> Result<(), String> {
    let at = if path.is_empty() { "the message" } else { path };
    let Value::Object(m) = v else {
        return Err(format!(
            "{at}: expected an object with fields of `{}`, got {}",
            layout.name,
            what(v)
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !layout.fields.iter().any(|f| &f.name == *k))
    {
        let names: Vec<&str> = layout.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(format!(
            "{}: no such field in `{}` (fields: {})",
            join(path, k),
            layout.name,
            names.join(", ")
        ));
    }
    for f in &layout.fields {
        let Some(fv) = m.get(&f.name) else { continue };
        let p = join(path, &f.name);
        let start = f.offset as usize;
        let total = out.len();
        let bytes = start
            .checked_add(f.ty.size as usize)
            .and_then(|end| out.get_mut(start..end))
            .ok_or_else(|| {
                format!(
                    "{p}: the layout puts it at {start}+{} outside the {}-byte message",
                    f.ty.size, total
                )
            })?;
        encode_type(&f.ty, fv, bytes, &p)?;
    }
    Ok(())
}

fn encode_type(ty: &TypeDesc, v: &Value, out: &mut [u8], path: &str) -> Result<(), String> {
    encode_shape(&ty.kind, &ty.shape, v, out, path)
}

fn encode_shape(
    kind: &Kind,
    shape: &[u32],
    v: &Value,
    out: &mut [u8],
    path: &str,
) -> Result<(), String> {
    let Some((&n, inner)) = shape.split_first() else {
        return encode_kind(kind, v, out, path);
    };
    let Value::Array(items) = v else {
        return Err(format!("{path}: expected an array of {n}, got {}", what(v)));
    };
    if items.len() != n as usize {
        return Err(format!("{path}: expected {n} items, got {}", items.len()));
    }
    let elem = inner
        .iter()
        .try_fold(
            u64::from(kind.checked_size().unwrap_or(u32::MAX)),
            |acc, &d| acc.checked_mul(u64::from(d)),
        )
        .filter(|e| e.checked_mul(u64::from(n)) == Some(out.len() as u64))
        .ok_or_else(|| format!("{path}: the layout's array size does not match its shape"))?
        as usize;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        encode_shape(kind, inner, item, &mut out[i * elem..(i + 1) * elem], &p)?;
    }
    Ok(())
}

fn put_len(out: &mut [u8], len: usize, path: &str) -> Result<(), String> {
    let len = u32::try_from(len).map_err(|_| format!("{path}: too long"))?;
    out.get_mut(..4)
        .ok_or_else(|| format!("{path}: field too small for its length"))?
        .copy_from_slice(&len.to_ne_bytes());
    Ok(())
}

fn encode_kind(kind: &Kind, v: &Value, out: &mut [u8], path: &str) -> Result<(), String> {
    match kind {
        Kind::Scalar(s) => {
            let b = scalar(*s, v).map_err(|e| format!("{path}: {e}"))?;
            out.get_mut(..b.len())
                .ok_or_else(|| format!("{path}: field too small for a {}", s.name()))?
                .copy_from_slice(&b);
            Ok(())
        }
        Kind::Struct(l) => encode_struct(l, v, out, path),
        Kind::FixedString { capacity } => {
            let Value::String(s) = v else {
                return Err(format!(
                    "{path}: expected a string of up to {capacity} bytes, got {}",
                    what(v)
                ));
            };
            if s.len() > *capacity as usize {
                return Err(format!(
                    "{path}: string of {} bytes is longer than its capacity of {capacity}",
                    s.len()
                ));
            }
            put_len(out, s.len(), path)?;
            out.get_mut(4..4 + s.len())
                .ok_or_else(|| format!("{path}: string outside the field"))?
                .copy_from_slice(s.as_bytes());
            Ok(())
        }
        Kind::FixedVec { elem, capacity } => {
            let Value::Array(items) = v else {
                return Err(format!(
                    "{path}: expected an array of up to {capacity} items, got {}",
                    what(v)
                ));
            };
            if items.len() > *capacity as usize {
                return Err(format!(
                    "{path}: {} items are more than its capacity of {capacity}",
                    items.len()
                ));
            }
            put_len(out, items.len(), path)?;
            let e = elem.size as usize;
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let at = 8 + i * e;
                let b = out
                    .get_mut(at..at + e)
                    .ok_or_else(|| format!("{p}: outside the field"))?;
                encode_type(elem, item, b, &p)?;
            }
            Ok(())
        }
        Kind::Opaque { size, .. } => {
            let bytes = match v {
                Value::String(h) => crate::bag::unhex(h),
                _ => None,
            }
            .filter(|b| b.len() == out.len())
            .ok_or_else(|| {
                format!(
                    "{path}: an opaque field of {size} bytes takes a hex string of {} digits, got {}",
                    2 * size,
                    what(v)
                )
            })?;
            out.copy_from_slice(&bytes);
            Ok(())
        }
    }
}

/// A JSON number or boolean as the native-endian bytes of `s`.
fn scalar(s: Scalar, v: &Value) -> Result<Vec<u8>, String> {
    macro_rules! int {
        ($t:ty) => {{
            let n = if let Some(n) = v.as_i64() {
                <$t>::try_from(n).ok()
            } else if let Some(n) = v.as_u64() {
                <$t>::try_from(n).ok()
            } else if v.is_number() {
                return Err(format!(
                    "expected an integer ({}), got {}",
                    s.name(),
                    what(v)
                ));
            } else {
                return Err(format!("expected a number ({}), got {}", s.name(), what(v)));
            };
            let n = n.ok_or_else(|| {
                format!(
                    "{v} does not fit a {} ({}..={})",
                    s.name(),
                    <$t>::MIN,
                    <$t>::MAX
                )
            })?;
            n.to_ne_bytes().to_vec()
        }};
    }
    let float = || {
        v.as_f64()
            .ok_or_else(|| format!("expected a number ({}), got {}", s.name(), what(v)))
    };
    Ok(match s {
        Scalar::U8 => int!(u8),
        Scalar::U16 => int!(u16),
        Scalar::U32 => int!(u32),
        Scalar::U64 => int!(u64),
        Scalar::I8 => int!(i8),
        Scalar::I16 => int!(i16),
        Scalar::I32 => int!(i32),
        Scalar::I64 => int!(i64),
        Scalar::F32 => {
            let x = float()?;
            if x.abs() > f64::from(f32::MAX) {
                return Err(format!("{x} does not fit an f32"));
            }
            (x as f32).to_ne_bytes().to_vec()
        }
        Scalar::F64 => float()?.to_ne_bytes().to_vec(),
        Scalar::Flag => match v {
            Value::Bool(b) => vec![u8::from(*b)],
            _ => match v.as_u64() {
                Some(n @ (0 | 1)) => vec![n as u8],
                _ => return Err(format!("expected true or false (flag), got {}", what(v))),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{decode_typed, Show};
    use serde_json::json;
    use shm_comm::FieldDescriptor;

    fn point() -> LayoutDescriptor {
        LayoutDescriptor::new(
            "Point",
            16,
            8,
            vec![
                FieldDescriptor::new("x", 0, TypeDesc::scalar(Scalar::F64)),
                FieldDescriptor::new("y", 8, TypeDesc::scalar(Scalar::F64)),
            ],
        )
    }

    /// `{ p: Point, n: i16, ok: flag, _pad: [u8; 1], name: FixedString<8>,
    ///    v: FixedVec<u16, 2>, m: [[u8; 2]; 2], _pad2: [u8; 4] }`
    fn outer() -> LayoutDescriptor {
        LayoutDescriptor::new(
            "Outer",
            56,
            8,
            vec![
                FieldDescriptor::new("p", 0, TypeDesc::of(Kind::Struct(point()))),
                FieldDescriptor::new("n", 16, TypeDesc::scalar(Scalar::I16)),
                FieldDescriptor::new("ok", 18, TypeDesc::scalar(Scalar::Flag)),
                FieldDescriptor::new("_pad", 19, TypeDesc::scalar(Scalar::U8).array(1)),
                FieldDescriptor::new("name", 20, TypeDesc::of(Kind::FixedString { capacity: 8 })),
                FieldDescriptor::new(
                    "v",
                    32,
                    TypeDesc::of(Kind::FixedVec {
                        elem: Box::new(TypeDesc::scalar(Scalar::U16)),
                        capacity: 2,
                    }),
                ),
                FieldDescriptor::new("m", 44, TypeDesc::scalar(Scalar::U8).array(2).array(2)),
                FieldDescriptor::new("_pad2", 48, TypeDesc::scalar(Scalar::U8).array(8)),
            ],
        )
    }

    #[test]
    fn an_object_encodes_to_what_the_decoder_reads_back() {
        let v = json!({
            "p": {"x": 1.5, "y": -2.0},
            "n": -300,
            "ok": true,
            "name": "héllo",
            "v": [7, 65535],
            "m": [[1, 2], [3, 4]],
        });
        let bytes = encode_typed(&outer(), &v).unwrap();
        assert_eq!(&bytes[16..18], &(-300i16).to_ne_bytes());
        assert_eq!(&bytes[20..24], &6u32.to_ne_bytes());
        let show = Show {
            max_array: 64,
            no_arr: false,
            allow_pickle: false,
        };
        let mut back = decode_typed(&outer(), &bytes, &show);
        let m = back.as_object_mut().unwrap();
        assert_eq!(m.remove("_pad"), Some(json!([0])));
        assert_eq!(m.remove("_pad2"), Some(json!([0, 0, 0, 0, 0, 0, 0, 0])));
        assert_eq!(back, v);
    }

    #[test]
    fn a_value_that_does_not_fit_names_its_field() {
        let cases = [
            (json!({"p": {"x": "a"}}), "p.x: expected a number"),
            (json!({"p": {"z": 1}}), "p.z: no such field"),
            (json!({"n": 40000}), "n: 40000 does not fit a i16"),
            (json!({"n": 1.5}), "n: expected an integer"),
            (json!({"ok": 2}), "ok: expected true or false"),
            (json!({"name": "123456789"}), "name: string of 9 bytes"),
            (
                json!({"v": [1, 2, 3]}),
                "v: 3 items are more than its capacity of 2",
            ),
            (json!({"v": [1, -1]}), "v[1]: -1 does not fit a u16"),
            (json!({"m": [[1, 2]]}), "m: expected 2 items, got 1"),
            (
                json!({"m": [[1, 2], [3, 256]]}),
                "m[1][1]: 256 does not fit",
            ),
            (json!([1]), "the message: expected an object"),
        ];
        for (v, says) in cases {
            let e = encode_typed(&outer(), &v).unwrap_err();
            assert!(e.starts_with(says), "{v}: {e}");
        }
    }

    #[test]
    fn a_field_outside_the_message_is_an_error_not_a_panic() {
        let bad = LayoutDescriptor::new(
            "Bad",
            8,
            8,
            vec![FieldDescriptor::new("x", 4, TypeDesc::scalar(Scalar::U64))],
        );
        let e = encode_typed(&bad, &json!({"x": 1})).unwrap_err();
        assert!(e.contains("outside"), "{e}");
    }
}
