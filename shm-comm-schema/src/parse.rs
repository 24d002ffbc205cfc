//! Reading one schema file: TOML into items with their line numbers.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::SchemaError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDe {
    version: Option<Spanned<i64>>,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    message: Vec<Spanned<MessageDe>>,
    #[serde(default)]
    variant: Vec<Spanned<VariantDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageDe {
    name: Spanned<String>,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    params: Vec<Spanned<String>>,
    #[serde(default)]
    constants: Vec<Spanned<ConstDe>>,
    fields: Vec<Spanned<FieldDe>>,
    /// A variable-size message's run-time-length array, after the fields.
    #[serde(default)]
    tail: Option<Spanned<FieldDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDe {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstDe {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    value: Spanned<i64>,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantDe {
    name: Spanned<String>,
    template: Spanned<String>,
    args: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    doc: Option<String>,
}

/// A field as written.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub ty: String,
    pub doc: String,
    pub line: usize,
}

/// A constant as written.
#[derive(Clone, Debug)]
pub struct ConstDef {
    pub name: String,
    pub ty: String,
    pub value: i64,
    pub doc: String,
    pub line: usize,
}

/// A `[[message]]` or a `[[variant]]`.
#[derive(Clone, Debug)]
pub enum ItemKind {
    Message {
        params: Vec<(String, usize)>,
        constants: Vec<ConstDef>,
        fields: Vec<FieldDef>,
        /// `tail = { name, type, doc }`: the element of a variable-size
        /// message's run-time-length array.
        tail: Option<FieldDef>,
    },
    Variant {
        template: String,
        template_line: usize,
        /// Sorted by name.
        args: Vec<(String, i64, usize)>,
    },
}

/// One definition of a file.
#[derive(Clone, Debug)]
pub struct Item {
    pub name: String,
    /// The line of the `name = ..` value.
    pub line: usize,
    pub doc: String,
    pub kind: ItemKind,
    /// Index of the file in the compilation.
    pub file: usize,
}

/// A parsed file.
#[derive(Clone, Debug)]
pub struct File {
    pub items: Vec<Item>,
}

/// 1-based line of byte offset `at`.
pub fn line_of(src: &str, at: usize) -> usize {
    1 + src.as_bytes()[..at.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Parses `text` (the contents of `path`, file number `file`).
pub fn parse(path: &str, text: &str, file: usize) -> Result<File, SchemaError> {
    let line = |span: std::ops::Range<usize>| line_of(text, span.start);
    // Syntax errors and serde's (unknown key, missing key, wrong type) alike.
    let de: FileDe = toml::from_str(text).map_err(|e| {
        let serde_error = [
            "unknown field",
            "missing field",
            "invalid type",
            "duplicate field",
        ]
        .iter()
        .any(|p| e.message().starts_with(p));
        SchemaError {
            file: path.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: if serde_error {
                e.message().trim().to_owned()
            } else {
                format!("invalid TOML: {}", e.message().trim())
            },
        }
    })?;
    let err = |line: usize, message: String| SchemaError {
        file: path.to_owned(),
        line,
        message,
    };
    match &de.version {
        None => {
            return Err(err(
                1,
                "missing `version = 1` (the version of the schema format)".into(),
            ))
        }
        Some(v) if *v.get_ref() != 1 => {
            return Err(err(
                line(v.span()),
                format!(
                    "unsupported schema format version {}: this compiler reads version 1",
                    v.get_ref()
                ),
            ))
        }
        Some(_) => {}
    }
    let _ = de.doc;
    let mut items = Vec::new();
    let field = |f: Spanned<FieldDe>| {
        let l = line(f.span());
        let f = f.into_inner();
        FieldDef {
            name: f.name.into_inner(),
            ty: f.ty.into_inner(),
            doc: f.doc.unwrap_or_default(),
            line: l,
        }
    };
    for m in de.message {
        let m = m.into_inner();
        items.push(Item {
            name: m.name.get_ref().clone(),
            line: line(m.name.span()),
            doc: m.doc.unwrap_or_default(),
            file,
            kind: ItemKind::Message {
                params: m
                    .params
                    .into_iter()
                    .map(|p| (p.get_ref().clone(), line(p.span())))
                    .collect(),
                constants: m
                    .constants
                    .into_iter()
                    .map(|c| {
                        let l = line(c.span());
                        let c = c.into_inner();
                        ConstDef {
                            name: c.name.into_inner(),
                            ty: c.ty.into_inner(),
                            value: c.value.into_inner(),
                            doc: c.doc.unwrap_or_default(),
                            line: l,
                        }
                    })
                    .collect(),
                fields: m.fields.into_iter().map(field).collect(),
                tail: m.tail.map(field),
            },
        });
    }
    for v in de.variant {
        let v = v.into_inner();
        items.push(Item {
            name: v.name.get_ref().clone(),
            line: line(v.name.span()),
            doc: v.doc.unwrap_or_default(),
            file,
            kind: ItemKind::Variant {
                template: v.template.get_ref().clone(),
                template_line: line(v.template.span()),
                args: v
                    .args
                    .into_iter()
                    .map(|(k, val)| {
                        let l = line(val.span());
                        (k, val.into_inner(), l)
                    })
                    .collect(),
            },
        });
    }
    // Messages and variants in the order they are written.
    items.sort_by_key(|i| i.line);
    Ok(File { items })
}
