//! MessagePack for Python objects, in Rust, so that msgpack needs no Python
//! package: `None`, `bool`, `int` (64-bit), `float`, `str`, `bytes`,
//! `bytearray`, `list`, `tuple` (as array) and `dict`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

/// Deepest nesting accepted in either direction (a hostile frame cannot
/// overflow the stack).
const MAX_DEPTH: usize = 128;

fn err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// Encodes `obj` as msgpack.
pub fn encode(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    encode_at(obj, out, 0)
}

fn encode_at(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    use rmp::encode as e;
    if depth > MAX_DEPTH {
        return Err(err("msgpack: nesting too deep"));
    }
    let w = |r: Result<(), rmp::encode::ValueWriteError>| r.map_err(|x| err(x.to_string()));
    if obj.is_none() {
        e::write_nil(out).map_err(|x| err(x.to_string()))?;
    } else if let Ok(b) = obj.cast::<PyBool>() {
        e::write_bool(out, b.is_true()).map_err(|x| err(x.to_string()))?;
    } else if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            w(e::write_sint(out, v).map(drop))?;
        } else if let Ok(v) = obj.extract::<u64>() {
            w(e::write_uint(out, v).map(drop))?;
        } else {
            return Err(err("msgpack: int does not fit in 64 bits"));
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        w(e::write_f64(out, f.value()))?;
    } else if let Ok(s) = obj.cast::<PyString>() {
        w(e::write_str(out, s.to_str()?))?;
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        w(e::write_bin(out, b.as_bytes()))?;
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        w(e::write_bin(out, &b.to_vec()))?;
    } else if let Ok(l) = obj.cast::<PyList>() {
        w(e::write_array_len(out, len32(l.len())?).map(drop))?;
        for item in l.iter() {
            encode_at(&item, out, depth + 1)?;
        }
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        w(e::write_array_len(out, len32(t.len())?).map(drop))?;
        for item in t.iter() {
            encode_at(&item, out, depth + 1)?;
        }
    } else if let Ok(d) = obj.cast::<PyDict>() {
        w(e::write_map_len(out, len32(d.len())?).map(drop))?;
        for (k, v) in d.iter() {
            encode_at(&k, out, depth + 1)?;
            encode_at(&v, out, depth + 1)?;
        }
    } else {
        return Err(err(format!(
            "msgpack cannot encode an object of type {}",
            obj.get_type().name()?
        )));
    }
    Ok(())
}

fn len32(n: usize) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| err("msgpack: container too large"))
}

/// Decodes one msgpack value; trailing bytes are an error.
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut d = Dec { buf: bytes, pos: 0 };
    let v = d.value(py, 0)?;
    if d.pos != bytes.len() {
        return Err(err("msgpack: trailing bytes after the value"));
    }
    Ok(v)
}

struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Dec<'_> {
    fn take(&mut self, n: usize) -> PyResult<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| err("msgpack: truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> PyResult<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
    fn value<'py>(&mut self, py: Python<'py>, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(err("msgpack: nesting too deep"));
        }
        let m = self.take(1)?[0];
        Ok(match m {
            0x00..=0x7f => u64::from(m).into_pyobject(py)?.into_any(),
            0x80..=0x8f => self.map(py, usize::from(m & 0x0f), depth)?,
            0x90..=0x9f => self.array(py, usize::from(m & 0x0f), depth)?,
            0xa0..=0xbf => self.str(py, usize::from(m & 0x1f))?,
            0xc0 => py.None().into_bound(py),
            0xc2 => PyBool::new(py, false).to_owned().into_any(),
            0xc3 => PyBool::new(py, true).to_owned().into_any(),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (m - 0xc4))? as usize;
                PyBytes::new(py, self.take(n)?).into_any()
            }
            0xca => f32::from_bits(self.uint(4)? as u32)
                .into_pyobject(py)?
                .into_any(),
            0xcb => f64::from_bits(self.uint(8)?).into_pyobject(py)?.into_any(),
            0xcc..=0xcf => self.uint(1 << (m - 0xcc))?.into_pyobject(py)?.into_any(),
            0xd0..=0xd3 => {
                let n = 1usize << (m - 0xd0);
                let raw = self.uint(n)?;
                let shift = 64 - 8 * n as u32;
                (((raw << shift) as i64) >> shift)
                    .into_pyobject(py)?
                    .into_any()
            }
            0xd9..=0xdb => {
                let n = self.uint(1 << (m - 0xd9))? as usize;
                self.str(py, n)?
            }
            0xdc | 0xdd => {
                let n = self.uint(2 << (m - 0xdc))? as usize;
                self.array(py, n, depth)?
            }
            0xde | 0xdf => {
                let n = self.uint(2 << (m - 0xde))? as usize;
                self.map(py, n, depth)?
            }
            0xe0..=0xff => i64::from(m as i8).into_pyobject(py)?.into_any(),
            _ => return Err(err(format!("msgpack: unsupported marker {m:#04x}"))),
        })
    }
    fn str<'py>(&mut self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| err("msgpack: string is not UTF-8"))?;
        Ok(PyString::new(py, s).into_any())
    }
    fn array<'py>(
        &mut self,
        py: Python<'py>,
        n: usize,
        depth: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Every element takes at least one byte: a hostile length cannot
        // make us allocate more than the frame justifies.
        if n > self.buf.len() - self.pos {
            return Err(err("msgpack: truncated"));
        }
        let l = PyList::empty(py);
        for _ in 0..n {
            l.append(self.value(py, depth + 1)?)?;
        }
        Ok(l.into_any())
    }
    fn map<'py>(&mut self, py: Python<'py>, n: usize, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if n > (self.buf.len() - self.pos) / 2 {
            return Err(err("msgpack: truncated"));
        }
        let d = PyDict::new(py);
        for _ in 0..n {
            let k = self.value(py, depth + 1)?;
            let v = self.value(py, depth + 1)?;
            d.set_item(k, v)?;
        }
        Ok(d.into_any())
    }
}
