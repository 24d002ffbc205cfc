//! Human output of a JSON value, indented as YAML: `key: value` lines,
//! arrays of numbers on one line.

use serde_json::Value;

/// `v` as indented lines.
pub(crate) fn human(v: &Value) -> String {
    let mut out = String::new();
    block(v, 0, &mut out);
    out
}

fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Object(_) => None,
        Value::Array(a) if a.iter().all(|e| inline(e).is_some() && !e.is_array()) => Some(format!(
            "[{}]",
            a.iter().filter_map(inline).collect::<Vec<_>>().join(", ")
        )),
        Value::Array(_) => None,
        Value::String(s) => Some(format!("{s:?}")),
        other => Some(other.to_string()),
    }
}

fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, e) in m {
                match inline(e) {
                    Some(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        block(e, indent + 1, out);
                    }
                }
            }
        }
        Value::Array(a) => {
            for e in a {
                match inline(e) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        block(e, indent + 1, out);
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other).unwrap_or_default())),
    }
}
