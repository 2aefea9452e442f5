//! Names the config field a TOML error points at.
//!
//! The `toml` crate reports a byte span and prints the offending line, but not the dotted key
//! path when it has a span. An operator reading `edge.redirect[1].target: invalid socket
//! address` finds the problem faster, so we map the span back to the deepest key or array
//! element whose span contains it.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The key path (`limits.idle_timeout`, `edge.redirect[0].listen`) at byte offset `pos` of
/// `doc`, or `None` when `pos` is outside every key and value (e.g. a syntax error between
/// entries).
pub(crate) fn key_path_at(doc: &str, pos: usize) -> Option<String> {
    let (root, _errors) = DeTable::parse_recoverable(doc);
    let mut path = Vec::new();
    if walk_table(root.get_ref(), pos, &mut path) {
        Some(render(&path))
    } else {
        None
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

fn contains(span: std::ops::Range<usize>, pos: usize) -> bool {
    span.contains(&pos) || (span.is_empty() && span.start == pos)
}

/// Deepest match first: a child's span is more precise than its table's, and a table's span
/// is used only when no child matches (e.g. "missing field" errors point at the table).
fn walk_table(table: &DeTable<'_>, pos: usize, path: &mut Vec<Segment>) -> bool {
    for (key, value) in table.iter() {
        path.push(Segment::Key(key.get_ref().to_string()));
        if contains(key.span(), pos) || walk_value(value, pos, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(value: &Spanned<DeValue<'_>>, pos: usize, path: &mut Vec<Segment>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) if walk_table(table, pos, path) => return true,
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                if walk_value(item, pos, path) {
                    return true;
                }
                path.pop();
            }
        }
        _ => {}
    }
    contains(value.span(), pos)
}

fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
[node]
name = "bkk"
roles = ["edge"]

[limits]
idle_timeout = "30s"

[[edge.redirect]]
listen = "127.0.0.1:27015"
target = "203.0.113.10:27015"

[[edge.redirect]]
listen = "127.0.0.1:27016"
target = "nope"

[[peers]]
name = "sgp"
"odd key" = 1
"#;

    fn at(needle: &str) -> Option<String> {
        let pos = DOC.find(needle).unwrap();
        key_path_at(DOC, pos)
    }

    #[test]
    fn names_keys_values_and_array_elements() {
        assert_eq!(at("\"bkk\"").as_deref(), Some("node.name"));
        assert_eq!(at("idle_timeout").as_deref(), Some("limits.idle_timeout"));
        assert_eq!(at("\"edge\"").as_deref(), Some("node.roles[0]"));
        assert_eq!(at("\"nope\"").as_deref(), Some("edge.redirect[1].target"));
        assert_eq!(at("\"odd key\"").as_deref(), Some("peers[0].\"odd key\""));
    }

    #[test]
    fn positions_outside_entries_name_nothing() {
        assert_eq!(key_path_at(DOC, 0), None);
        assert_eq!(key_path_at("", 0), None);
    }
}
