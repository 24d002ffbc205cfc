//! Converters between a typed topic's message bytes and Python objects,
//! compiled once per layout.
//!
//! A [`Plan`] is a tree of field operations with their byte offsets, made
//! from a [`LayoutDescriptor`] when a typed publisher or subscriber is set
//! up: nested messages are sub-plans with the class their objects are made
//! of, numbers arrays carry their numpy dtype and shape, and attribute names
//! are interned Python strings. `pack` (in `pack.rs`) writes an object into a
//! message's bytes and `unpack` (in `unpack.rs`) builds the object from them,
//! with the values and types that `shm_comm.typed.encode` / `decode` give
//! (the Python reference kept for the cases the plan does not take on).
//!
//! Every access to message bytes goes through a bounds-checked slice: a
//! layout is validated before a plan is made of it, and a plan never reads
//! or writes outside the buffer it is handed even if it were not.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use shm_comm::{Kind, LayoutDescriptor, Scalar, TypeDesc};

use crate::typed;

/// How a whole message converts.
pub(crate) struct Plan {
    /// Bytes of one message.
    pub(crate) size: usize,
    pub(crate) root: Struct,
    /// `numpy.empty`, to make the arrays of received messages.
    pub(crate) np_empty: Py<PyAny>,
}

/// A message (the top one or a nested one).
pub(crate) struct Struct {
    /// Its layout's name, for errors.
    pub(crate) name: String,
    /// The class its objects are made of (plans for receiving only).
    pub(crate) class: Option<Py<PyAny>>,
    /// Whether objects are made without calling the class (see [`fast_init`]).
    pub(crate) fast: bool,
    pub(crate) fields: Vec<Field>,
}

pub(crate) struct Field {
    /// The layout's name: a dict key, and the name in error messages.
    pub(crate) name: String,
    pub(crate) key: Py<PyString>,
    /// The attribute name (the layout's name, `_`-suffixed if a keyword).
    pub(crate) attr: Py<PyString>,
    /// Byte offset inside its message.
    pub(crate) offset: usize,
    pub(crate) ty: Ty,
}

/// A field's type, as converted.
pub(crate) enum Ty {
    /// A number or a flag: `int`, `float` or `bool`.
    Scalar(Scalar),
    /// An array of numbers or flags: a `numpy.ndarray` (`bool` for flags).
    Numbers(Numbers),
    /// A nested message.
    Struct(Box<Struct>),
    /// `FixedString<capacity>`: `str`.
    String { capacity: usize },
    /// `FixedVec<elem, capacity>`: an array of the `len` items if they are
    /// plain numbers, else a list.
    Vec {
        capacity: usize,
        elem: Box<Ty>,
        elem_size: usize,
        /// The items' dtype when they are plain numbers (flags as `u1`).
        numbers: Option<Numbers>,
    },
    /// A foreign type's bytes: `bytes`.
    Opaque { size: usize },
    /// `[inner; len]` of anything but numbers: a list.
    Array {
        len: usize,
        stride: usize,
        inner: Box<Ty>,
    },
}

/// An array of numbers as numpy sees it.
pub(crate) struct Numbers {
    pub(crate) scalar: Scalar,
    /// The dimensions, as numpy takes them.
    pub(crate) dims: Py<PyTuple>,
    pub(crate) shape: Vec<usize>,
    /// The dtype of the values in the message (`u1` for flags).
    pub(crate) dtype: Py<PyAny>,
    /// The dtype of a received array (`bool` for flags).
    pub(crate) out_dtype: Py<PyAny>,
    /// Whether received values become bools (flags).
    pub(crate) bools: bool,
    /// Bytes of the whole array.
    pub(crate) bytes: usize,
}

/// What the plan is for: sending needs no classes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Send,
    Receive,
}

impl Plan {
    /// Compiles the plan of `layout`. For receiving, each message's class
    /// is `shm_comm.typed.message_class` of its layout, as `typed.decode`
    /// finds it.
    pub(crate) fn new(
        py: Python<'_>,
        layout: &LayoutDescriptor,
        purpose: Purpose,
    ) -> PyResult<Plan> {
        let np = py.import("numpy")?;
        let cx = Cx {
            py,
            dtype: np.getattr("dtype")?,
            iskeyword: py.import("keyword")?.getattr("iskeyword")?,
            purpose,
        };
        Ok(Plan {
            size: layout.size as usize,
            root: cx.message(layout, 0)?,
            np_empty: np.getattr("empty")?.unbind(),
        })
    }
}

/// What compiling needs at hand.
struct Cx<'py> {
    py: Python<'py>,
    dtype: Bound<'py, PyAny>,
    iskeyword: Bound<'py, PyAny>,
    purpose: Purpose,
}

impl<'py> Cx<'py> {
    fn message(&self, l: &LayoutDescriptor, depth: u32) -> PyResult<Struct> {
        if depth > 32 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "layout: nesting too deep",
            ));
        }
        let py = self.py;
        let mut fields = Vec::with_capacity(l.fields.len());
        for f in &l.fields {
            let attr = if self.iskeyword.call1((&f.name,))?.is_truthy()? {
                format!("{}_", f.name)
            } else {
                f.name.clone()
            };
            fields.push(Field {
                name: f.name.clone(),
                key: PyString::intern(py, &f.name).unbind(),
                attr: PyString::intern(py, &attr).unbind(),
                offset: f.offset as usize,
                ty: self.ty(&f.ty, depth)?,
            });
        }
        let (class, fast) = match self.purpose {
            Purpose::Send => (None, false),
            Purpose::Receive => {
                static MESSAGE_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                let class = MESSAGE_CLASS
                    .import(py, "shm_comm.typed", "message_class")?
                    .call1((typed::to_dict(py, l)?,))?;
                let fast = fast_init(&class, &fields)?;
                (Some(class.unbind()), fast)
            }
        };
        Ok(Struct {
            name: l.name.clone(),
            class,
            fast,
            fields,
        })
    }

    fn ty(&self, t: &TypeDesc, depth: u32) -> PyResult<Ty> {
        let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        if let Kind::Scalar(s) = t.kind {
            if shape.is_empty() {
                return Ok(Ty::Scalar(s));
            }
            return Ok(Ty::Numbers(self.numbers(s, shape)?));
        }
        if let Some((&len, rest)) = shape.split_first() {
            // `[T; len]` of something other than numbers: a list of `len`.
            let mut inner = t.clone();
            inner.shape.remove(0);
            let stride = rest
                .iter()
                .product::<usize>()
                .saturating_mul(t.kind.size() as usize);
            return Ok(Ty::Array {
                len,
                stride,
                inner: Box::new(self.ty(&inner, depth)?),
            });
        }
        Ok(match &t.kind {
            Kind::Scalar(_) => unreachable!("handled above"),
            Kind::Struct(l) => Ty::Struct(Box::new(self.message(l, depth + 1)?)),
            Kind::FixedString { capacity } => Ty::String {
                capacity: *capacity as usize,
            },
            Kind::FixedVec { elem, capacity } => {
                let numbers = match elem.kind {
                    // A vector of flags comes back as bools, as an array
                    // of flags does (what `typed.decode` gives).
                    Kind::Scalar(s) if elem.shape.is_empty() => {
                        Some(self.numbers(s, vec![*capacity as usize])?)
                    }
                    _ => None,
                };
                Ty::Vec {
                    capacity: *capacity as usize,
                    elem: Box::new(self.ty(elem, depth + 1)?),
                    elem_size: elem.size as usize,
                    numbers,
                }
            }
            Kind::Opaque { size, .. } => Ty::Opaque {
                size: *size as usize,
            },
        })
    }

    fn numbers(&self, s: Scalar, shape: Vec<usize>) -> PyResult<Numbers> {
        let name = crate::fields::numpy_name(s).unwrap_or("u1");
        let dtype = self.dtype.call1((name,))?.unbind();
        let out_dtype = if s == Scalar::Flag {
            self.dtype.call1(("bool",))?.unbind()
        } else {
            dtype.clone_ref(self.py)
        };
        Ok(Numbers {
            scalar: s,
            dims: PyTuple::new(self.py, &shape)?.unbind(),
            bytes: shape
                .iter()
                .product::<usize>()
                .saturating_mul(s.size() as usize),
            shape,
            dtype,
            out_dtype,
            bools: s == Scalar::Flag,
        })
    }
}

/// Whether objects of `class` can be made without calling it: allocated by
/// `object.__new__` with each field set as an attribute, which is what a
/// dataclass's generated `__init__` does. True for the generated message
/// classes and those of `typed.message_class`; false (the class is called
/// with the fields as keywords, as `typed.decode` does) for a class with a
/// `__post_init__`, its own `__new__` or `__init__`, fields outside the
/// layout, or any class that does not keep the values given to it.
fn fast_init(class: &Bound<'_, PyAny>, fields: &[Field]) -> PyResult<bool> {
    let py = class.py();
    let dataclasses = py.import("dataclasses")?;
    if !dataclasses
        .call_method1("is_dataclass", (class,))?
        .is_truthy()?
        || class.hasattr("__post_init__")?
        || !class
            .getattr("__new__")?
            .is(py.get_type::<PyAny>().getattr("__new__")?)
    {
        return Ok(false);
    }
    let declared = dataclasses.call_method1("fields", (class,))?;
    let mut names = Vec::new();
    for f in declared.try_iter()? {
        let f = f?;
        if !f.getattr("init")?.is_truthy()? {
            return Ok(false);
        }
        names.push(f.getattr("name")?.extract::<String>()?);
    }
    let attrs: Vec<String> = fields.iter().map(|f| f.attr.bind(py).to_string()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let mut wanted = attrs.clone();
    wanted.sort();
    if sorted != wanted {
        return Ok(false);
    }
    // A probe: the class must keep exactly what it is given.
    let kwargs = PyDict::new(py);
    let object = py.get_type::<PyAny>();
    let probes: Vec<Bound<'_, PyAny>> = attrs
        .iter()
        .map(|_| object.call0())
        .collect::<PyResult<_>>()?;
    for (a, p) in attrs.iter().zip(&probes) {
        kwargs.set_item(a, p)?;
    }
    let Ok(obj) = class.call((), Some(&kwargs)) else {
        return Ok(false);
    };
    if !obj.get_type().is(class) {
        return Ok(false);
    }
    for (a, p) in attrs.iter().zip(&probes) {
        if !obj.getattr(a.as_str())?.is(p) {
            return Ok(false);
        }
    }
    Ok(true)
}
