//! Event contract checks: the checked-in payload schemas (`docs/events/schemas`) and the
//! compatibility rules between them (docs/events.md "Schemas and compatibility").
//!
//! [`incompatibilities`] answers one question: would a reader written against one schema accept
//! every message valid under another? Producers use it to keep each recorded `(type, version)`
//! readable by its existing consumers ([`assert_published`]), consumers to check that what they
//! decode matches what is published ([`assert_consumed`]).

use serde_json::{Map, Value};
use shop_common::events::contract::EventContract;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Set to `1` to record new or compatibly changed schemas instead of failing.
pub const UPDATE_VAR: &str = "UPDATE_EVENT_SCHEMAS";

/// Where the schemas are checked in: `docs/events/schemas` at the workspace root.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events/schemas")
}

/// The checked-in text of a schema: pretty-printed, keys sorted at every level, final newline.
pub fn to_file_text(schema: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect::<Map<_, _>>())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(schema)).unwrap_or_default();
    text.push('\n');
    text
}

fn update_mode() -> bool {
    std::env::var(UPDATE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Checks a producer's contracts against the checked-in files; returns the problems (empty: all
/// good). With `UPDATE_EVENT_SCHEMAS=1`, new `(type, version)`s and compatible changes are written
/// instead; an incompatible change is never written.
pub fn check_published(package: &str, contracts: &[EventContract]) -> Vec<String> {
    check_published_in(&schemas_dir(), package, contracts, update_mode())
}

/// [`check_published`], panicking with every problem.
pub fn assert_published(package: &str, contracts: &[EventContract]) {
    let problems = check_published(package, contracts);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Checks what a consumer decodes against the producers' checked-in schemas: each declared
/// `(type, version)` must be published (its file exists) and readable with the consumer's types.
pub fn check_consumed(contracts: &[EventContract]) -> Vec<String> {
    check_consumed_in(&schemas_dir(), contracts)
}

/// [`check_consumed`], panicking with every problem.
pub fn assert_consumed(contracts: &[EventContract]) {
    let problems = check_consumed(contracts);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn check_published_in(dir: &Path, package: &str, contracts: &[EventContract], update: bool) -> Vec<String> {
    let record = format!("run `{UPDATE_VAR}=1 cargo nextest run -p {package} event_contracts` to record it");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for contract in contracts {
        let file = contract.file_name();
        let shown = format!("docs/events/schemas/{file}");
        if !seen.insert(file.clone()) {
            problems.push(format!("{} v{} is declared twice", contract.event_type, contract.version));
            continue;
        }
        let path = dir.join(&file);
        let generated = to_file_text(&contract.schema);
        let write = |problems: &mut Vec<String>| {
            if let Err(err) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &generated)) {
                problems.push(format!("writing {shown}: {err}"));
            }
        };
        let recorded = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if update {
                    write(&mut problems);
                } else {
                    problems.push(format!(
                        "{} v{} has no recorded schema ({shown} is missing); {record}",
                        contract.event_type, contract.version
                    ));
                }
                continue;
            }
            Err(err) => {
                problems.push(format!("reading {shown}: {err}"));
                continue;
            }
        };
        if recorded == generated {
            continue;
        }
        let recorded: Value = match serde_json::from_str(&recorded) {
            Ok(value) => value,
            Err(err) => {
                problems.push(format!("{shown} is not JSON: {err}"));
                continue;
            }
        };
        let breaks = incompatibilities(&recorded, &contract.schema);
        if !breaks.is_empty() {
            problems.push(format!(
                "{} v{} changed incompatibly with {shown}:\n  - {}\nConsumers of v{} would fail. Undo the change, or \
                 raise the event's version (a new schema file; keep the old one while consumers still read it).",
                contract.event_type,
                contract.version,
                breaks.join("\n  - "),
                contract.version
            ));
        } else if update {
            write(&mut problems);
        } else {
            problems.push(format!(
                "{} v{} changed compatibly, but {shown} still holds the old schema; {record}",
                contract.event_type, contract.version
            ));
        }
    }
    problems
}

fn check_consumed_in(dir: &Path, contracts: &[EventContract]) -> Vec<String> {
    let mut problems = Vec::new();
    for contract in contracts {
        let shown = format!("docs/events/schemas/{}", contract.file_name());
        let recorded = match std::fs::read_to_string(dir.join(contract.file_name())) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!(
                    "{} v{} on {} is consumed, but nobody publishes it ({shown} does not exist)",
                    contract.event_type, contract.version, contract.topic
                ));
                continue;
            }
            Err(err) => {
                problems.push(format!("reading {shown}: {err}"));
                continue;
            }
        };
        let recorded: Value = match serde_json::from_str(&recorded) {
            Ok(value) => value,
            Err(err) => {
                problems.push(format!("{shown} is not JSON: {err}"));
                continue;
            }
        };
        let breaks = incompatibilities(&contract.schema, &recorded);
        if !breaks.is_empty() {
            problems.push(format!(
                "the consumer cannot read every {} v{} that {shown} allows:\n  - {}",
                contract.event_type,
                contract.version,
                breaks.join("\n  - ")
            ));
        }
    }
    problems
}

/// Why a reader written against `reader` would not accept every message valid under `writer`
/// (empty: it accepts them all). Both are JSON Schemas as schemars writes them: `$ref`s into
/// `$defs`, `type` (a name or a list), `properties`/`required`, `items`, `enum`/`const`,
/// `anyOf`/`oneOf`, `format`, `minimum`/`maximum`.
///
/// Rules: every property the reader requires must be required by the writer; every property both
/// know must have compatible types (writer's type set ⊆ reader's, `integer` ⊆ `number`; `null` is a
/// type, so making a field nullable breaks readers and making it non-null does not); a reader's
/// `format` must be the writer's too (integer formats by range: `int32` fits `int64`); arrays by
/// items; a reader's `enum` must hold every value the writer may send. Properties the reader does
/// not know are ignored, unless it denies them (`additionalProperties: false`).
pub fn incompatibilities(reader: &Value, writer: &Value) -> Vec<String> {
    Checker { reader_root: reader, writer_root: writer }.check(reader, writer, "", 0)
}

/// Schema keywords that constrain nothing.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

const MAX_DEPTH: usize = 64;

struct Checker<'a> {
    reader_root: &'a Value,
    writer_root: &'a Value,
}

fn at(path: &str) -> String {
    if path.is_empty() { "the payload".to_owned() } else { format!("`{path}`") }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

fn accepts_anything(schema: &Value) -> bool {
    match schema {
        Value::Bool(accepts) => *accepts,
        Value::Object(map) => map.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

/// The branches of an `anyOf`/`oneOf` (a single-element `allOf` counts as its element).
fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    let map = schema.as_object()?;
    if let Some(all) = map.get("allOf").and_then(Value::as_array).filter(|all| all.len() == 1) {
        return Some(all);
    }
    map.get("anyOf").or_else(|| map.get("oneOf")).and_then(Value::as_array)
}

fn type_of_value(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The values an `enum` or `const` allows, if the schema lists them.
fn enum_values(schema: &Value) -> Option<Vec<Value>> {
    let map = schema.as_object()?;
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        return Some(values.clone());
    }
    map.get("const").map(|value| vec![value.clone()])
}

/// The JSON types a schema allows: its `type`, or those of its `enum`/`const` values; `None` when
/// it does not say (any type).
fn types_of(schema: &Value) -> Option<BTreeSet<String>> {
    let map = schema.as_object()?;
    match map.get("type") {
        Some(Value::String(t)) => Some(BTreeSet::from([t.clone()])),
        Some(Value::Array(ts)) => Some(ts.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => enum_values(schema).map(|values| values.iter().map(|v| type_of_value(v).to_owned()).collect()),
    }
}

/// A schema with several `type`s as one schema per type (its `enum` values split likewise).
fn split_by_type(schema: &Value) -> Option<Vec<Value>> {
    let types = schema.get("type")?.as_array().filter(|types| types.len() > 1)?;
    let parts = types
        .iter()
        .map(|t| {
            let mut part = schema.clone();
            part["type"] = t.clone();
            if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                let fits = |v: &&Value| {
                    let vt = type_of_value(v);
                    t == vt || (t == "number" && vt == "integer")
                };
                part["enum"] = Value::Array(values.iter().filter(fits).cloned().collect());
            }
            part
        })
        .collect();
    Some(parts)
}

/// The range an integer schema allows, from its `format` and `minimum`/`maximum`.
fn integer_range(schema: &Value) -> (i128, i128) {
    let (mut low, mut high) = match schema.get("format").and_then(Value::as_str) {
        Some("int8") => (i128::from(i8::MIN), i128::from(i8::MAX)),
        Some("int16") => (i128::from(i16::MIN), i128::from(i16::MAX)),
        Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX)),
        Some("int64" | "int") => (i128::from(i64::MIN), i128::from(i64::MAX)),
        Some("uint8") => (0, i128::from(u8::MAX)),
        Some("uint16") => (0, i128::from(u16::MAX)),
        Some("uint32") => (0, i128::from(u32::MAX)),
        Some("uint64" | "uint") => (0, i128::from(u64::MAX)),
        _ => (i128::MIN, i128::MAX),
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64).map(|v| v as i128);
    if let Some(min) = bound("minimum") {
        low = low.max(min);
    }
    if let Some(max) = bound("maximum") {
        high = high.min(max);
    }
    (low, high)
}

fn has_range(schema: &Value) -> bool {
    schema.get("minimum").is_some()
        || schema.get("maximum").is_some()
        || schema.get("format").and_then(Value::as_str).is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
}

fn describe(types: &BTreeSet<String>) -> String {
    types.iter().cloned().collect::<Vec<_>>().join(" or ")
}

impl Checker<'_> {
    fn resolve<'v>(&self, root: &'v Value, mut schema: &'v Value, path: &str) -> Result<&'v Value, String> {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { return Ok(schema) };
            let Some(pointer) = reference.strip_prefix('#') else {
                return Err(format!("{}: external $ref {reference} is not supported", at(path)));
            };
            schema = root.pointer(pointer).ok_or_else(|| format!("{}: $ref {reference} does not resolve", at(path)))?;
        }
        Err(format!("{}: $ref chain too long", at(path)))
    }

    fn check(&self, reader: &Value, writer: &Value, path: &str, depth: usize) -> Vec<String> {
        if depth > MAX_DEPTH {
            return vec![format!("{}: schemas nest too deep to compare", at(path))];
        }
        let (reader, writer) =
            match (self.resolve(self.reader_root, reader, path), self.resolve(self.writer_root, writer, path)) {
                (Ok(r), Ok(w)) => (r, w),
                (Err(e), _) | (_, Err(e)) => return vec![e],
            };
        if accepts_anything(reader) || *writer == Value::Bool(false) {
            return Vec::new();
        }
        if *reader == Value::Bool(false) {
            return vec![format!("{}: the reader accepts nothing", at(path))];
        }
        // Every message of every writer branch must be readable.
        if let Some(branches) = alternatives(writer) {
            return branches.iter().flat_map(|branch| self.check(reader, branch, path, depth + 1)).collect();
        }
        // A writer of several types (`["string", "null"]`) is checked one type at a time, so a
        // reader's `anyOf: [string, null]` can accept each part with a different branch.
        if let Some(parts) = split_by_type(writer) {
            return parts.iter().flat_map(|part| self.check(reader, part, path, depth + 1)).collect();
        }
        // One reader branch must accept the writer's message; report the closest miss.
        if let Some(branches) = alternatives(reader) {
            let mut closest: Option<Vec<String>> = None;
            for branch in branches {
                let problems = self.check(branch, writer, path, depth + 1);
                if problems.is_empty() {
                    return problems;
                }
                if closest.as_ref().is_none_or(|c| problems.len() < c.len()) {
                    closest = Some(problems);
                }
            }
            return closest.unwrap_or_else(|| vec![format!("{}: the reader's anyOf is empty", at(path))]);
        }
        self.check_typed(reader, writer, path, depth)
    }

    fn check_typed(&self, reader: &Value, writer: &Value, path: &str, depth: usize) -> Vec<String> {
        let mut problems = Vec::new();
        let reader_types = types_of(reader);
        let Some(writer_types) = types_of(writer) else {
            let expected = reader_types.as_ref().map_or_else(|| "a constrained value".to_owned(), describe);
            return vec![format!("{}: the writer may send any value, the reader expects {expected}", at(path))];
        };
        for t in &writer_types {
            let accepted =
                reader_types.as_ref().is_none_or(|r| r.contains(t) || (t == "integer" && r.contains("number")));
            if !accepted {
                let expected = reader_types.as_ref().map(describe).unwrap_or_default();
                let what = match t.as_str() {
                    "null" => "null".to_owned(),
                    "integer" | "array" | "object" => format!("an {t}"),
                    _ => format!("a {t}"),
                };
                problems.push(format!("{}: the writer may send {what}, the reader expects {expected}", at(path)));
            }
        }
        if let Some(allowed) = enum_values(reader) {
            match enum_values(writer) {
                Some(sent) => {
                    for value in sent.iter().filter(|v| !allowed.contains(v)) {
                        problems
                            .push(format!("{}: the writer may send {value}, which the reader does not know", at(path)));
                    }
                }
                None => problems.push(format!(
                    "{}: the reader accepts only {}, the writer may send any {}",
                    at(path),
                    Value::Array(allowed),
                    describe(&writer_types)
                )),
            }
        }
        if writer_types.contains("string") {
            if let Some(format) = reader.get("format").and_then(Value::as_str) {
                let sent = writer.get("format").and_then(Value::as_str);
                if sent != Some(format) {
                    problems.push(format!(
                        "{}: the reader expects format `{format}`, the writer's is {}",
                        at(path),
                        sent.map_or_else(|| "unspecified".to_owned(), |f| format!("`{f}`"))
                    ));
                }
            }
        }
        if writer_types.contains("integer") && has_range(reader) {
            let (low, high) = integer_range(reader);
            let (sent_low, sent_high) = integer_range(writer);
            if sent_low < low || sent_high > high {
                problems.push(format!(
                    "{}: the writer may send integers outside the reader's range {low}..={high}",
                    at(path)
                ));
            }
        }
        if writer_types.contains("array") {
            if let Some(items) = reader.get("items") {
                let sent = writer.get("items").unwrap_or(&Value::Bool(true));
                problems.extend(self.check(items, sent, &format!("{path}[]"), depth + 1));
            }
        }
        if writer_types.contains("object") {
            problems.extend(self.check_object(reader, writer, path, depth));
        }
        problems
    }

    fn check_object(&self, reader: &Value, writer: &Value, path: &str, depth: usize) -> Vec<String> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        fn properties(schema: &Value) -> &Map<String, Value> {
            schema.get("properties").and_then(Value::as_object).unwrap_or(&EMPTY)
        }
        let required = |schema: &Value| -> BTreeSet<String> {
            schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let (reader_props, writer_props) = (properties(reader), properties(writer));
        let (reader_required, writer_required) = (required(reader), required(writer));
        let mut problems = Vec::new();
        for name in &reader_required {
            if !writer_props.contains_key(name) && !writer_required.contains(name) {
                problems.push(format!(
                    "{}: required by the reader, but the writer does not send it (removed or renamed?)",
                    at(&join(path, name))
                ));
            } else if !writer_required.contains(name) {
                problems.push(format!(
                    "{}: required by the reader, but optional for the writer (may be missing)",
                    at(&join(path, name))
                ));
            }
        }
        for (name, wanted) in reader_props {
            if let Some(sent) = writer_props.get(name) {
                problems.extend(self.check(wanted, sent, &join(path, name), depth + 1));
            }
        }
        match reader.get("additionalProperties") {
            Some(Value::Bool(false)) => {
                for name in writer_props.keys().filter(|name| !reader_props.contains_key(*name)) {
                    problems.push(format!(
                        "{}: the writer sends it, the reader denies unknown fields",
                        at(&join(path, name))
                    ));
                }
            }
            Some(extra @ Value::Object(_)) => {
                for (name, sent) in writer_props.iter().filter(|(name, _)| !reader_props.contains_key(*name)) {
                    problems.extend(self.check(extra, sent, &join(path, name), depth + 1));
                }
            }
            _ => {}
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money_defs() -> Value {
        json!({"Money": {"type": "object", "properties": {"amount_minor": {"type": "integer", "format": "int64"},
            "currency": {"type": "string"}}, "required": ["amount_minor", "currency"]}})
    }

    /// A schemars-shaped v1 payload.
    fn v1() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "order.created v1",
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "format": "uuid"},
                "user_id": {"type": ["string", "null"], "format": "uuid"},
                "status": {"type": "string", "enum": ["open", "closed"]},
                "lines": {"type": "array", "items": {"type": "object",
                    "properties": {"quantity": {"type": "integer", "format": "int64"}}, "required": ["quantity"]}},
                "total": {"$ref": "#/$defs/Money"},
                "note": {"type": "string"}
            },
            "required": ["order_id", "user_id", "status", "lines", "total"],
            "$defs": money_defs()
        })
    }

    fn with(mut schema: Value, change: impl FnOnce(&mut Value)) -> Value {
        change(&mut schema);
        schema
    }

    fn remove_field(schema: &mut Value, name: &str) {
        schema["properties"].as_object_mut().unwrap().remove(name);
        schema["required"].as_array_mut().unwrap().retain(|n| n != name);
    }

    fn assert_breaks(reader: &Value, writer: &Value, needle: &str) {
        let problems = incompatibilities(reader, writer);
        assert!(problems.iter().any(|p| p.contains(needle)), "expected {needle:?} in {problems:#?}");
    }

    #[test]
    fn identical_schemas_are_compatible() {
        assert_eq!(incompatibilities(&v1(), &v1()), Vec::<String>::new());
    }

    #[test]
    fn a_removed_required_field_breaks() {
        let writer = with(v1(), |s| remove_field(s, "status"));
        assert_breaks(&v1(), &writer, "`status`: required by the reader, but the writer does not send it");
    }

    #[test]
    fn a_renamed_field_breaks() {
        let writer = with(v1(), |s| {
            let total = s["properties"].as_object_mut().unwrap().remove("total").unwrap();
            s["properties"]["grand_total"] = total;
            let required = s["required"].as_array_mut().unwrap();
            required.retain(|n| n != "total");
            required.push("grand_total".into());
        });
        assert_breaks(&v1(), &writer, "`total`: required by the reader");
    }

    #[test]
    fn a_retyped_field_breaks() {
        let writer = with(v1(), |s| s["properties"]["order_id"] = json!({"type": "integer", "format": "int64"}));
        assert_breaks(&v1(), &writer, "`order_id`: the writer may send an integer, the reader expects string");
        let writer = with(v1(), |s| s["$defs"]["Money"]["properties"]["amount_minor"] = json!({"type": "number"}));
        assert_breaks(&v1(), &writer, "`total.amount_minor`: the writer may send a number");
    }

    #[test]
    fn a_changed_format_breaks() {
        let writer = with(v1(), |s| s["properties"]["order_id"] = json!({"type": "string"}));
        assert_breaks(&v1(), &writer, "`order_id`: the reader expects format `uuid`, the writer's is unspecified");
    }

    #[test]
    fn array_items_are_compared() {
        let writer =
            with(v1(), |s| s["properties"]["lines"]["items"]["properties"]["quantity"] = json!({"type": "string"}));
        assert_breaks(&v1(), &writer, "`lines[].quantity`");
    }

    #[test]
    fn a_dropped_optional_field_and_an_added_field_are_fine() {
        let writer = with(v1(), |s| {
            remove_field(s, "note");
            s["properties"]["coupon"] = json!({"type": "string"});
            s["required"].as_array_mut().unwrap().push("coupon".into());
        });
        assert_eq!(incompatibilities(&v1(), &writer), Vec::<String>::new());
    }

    #[test]
    fn a_required_field_made_optional_breaks() {
        let writer = with(v1(), |s| s["required"].as_array_mut().unwrap().retain(|n| n != "lines"));
        assert_breaks(&v1(), &writer, "`lines`: required by the reader, but optional for the writer");
    }

    #[test]
    fn an_added_enum_value_breaks_the_reader_and_a_removed_one_does_not() {
        let writer = with(v1(), |s| s["properties"]["status"]["enum"] = json!(["open", "closed", "held"]));
        assert_breaks(&v1(), &writer, "`status`: the writer may send \"held\", which the reader does not know");
        let writer = with(v1(), |s| s["properties"]["status"]["enum"] = json!(["open"]));
        assert_eq!(incompatibilities(&v1(), &writer), Vec::<String>::new());
        // schemars writes documented variants as oneOf of consts.
        let writer = with(v1(), |s| {
            s["properties"]["status"] =
                json!({"oneOf": [{"type": "string", "const": "open"}, {"type": "string", "const": "gone"}]});
        });
        assert_breaks(&v1(), &writer, "\"gone\"");
    }

    #[test]
    fn nullable_made_non_null_is_fine_and_the_reverse_breaks() {
        let writer = with(v1(), |s| s["properties"]["user_id"] = json!({"type": "string", "format": "uuid"}));
        assert_eq!(incompatibilities(&v1(), &writer), Vec::<String>::new());
        let writer = with(v1(), |s| s["properties"]["order_id"]["type"] = json!(["string", "null"]));
        assert_breaks(&v1(), &writer, "`order_id`: the writer may send null");
        // The anyOf form schemars uses for optional references.
        let writer =
            with(v1(), |s| s["properties"]["total"] = json!({"anyOf": [{"$ref": "#/$defs/Money"}, {"type": "null"}]}));
        assert_breaks(&v1(), &writer, "`total`: the writer may send null");
        let reader =
            with(v1(), |s| s["properties"]["total"] = json!({"anyOf": [{"$ref": "#/$defs/Money"}, {"type": "null"}]}));
        assert_eq!(incompatibilities(&reader, &v1()), Vec::<String>::new());
    }

    #[test]
    fn a_nullable_writer_fits_a_reader_with_a_null_branch() {
        let reader = json!({"anyOf": [{"$ref": "#/$defs/Id"}, {"type": "null"}], "$defs": {"Id": {"type": "string", "format": "uuid"}}});
        let writer = json!({"type": ["string", "null"], "format": "uuid"});
        assert_eq!(incompatibilities(&reader, &writer), Vec::<String>::new());
        let reader = json!({"type": "string", "enum": ["a", "b"]});
        let writer = json!({"type": ["string", "null"], "enum": ["a", null]});
        assert_breaks(&reader, &writer, "the writer may send null");
        let reader = json!({"type": ["string", "null"], "enum": ["a", "b", null]});
        assert_eq!(incompatibilities(&reader, &writer), Vec::<String>::new());
    }

    #[test]
    fn integers_fit_numbers_and_wider_integers_only() {
        let reader = json!({"type": "number", "format": "double"});
        assert_eq!(incompatibilities(&reader, &json!({"type": "integer", "format": "int32"})), Vec::<String>::new());
        let reader = json!({"type": "integer", "format": "int64"});
        assert_eq!(incompatibilities(&reader, &json!({"type": "integer", "format": "int32"})), Vec::<String>::new());
        let reader = json!({"type": "integer", "format": "int32"});
        assert_breaks(&reader, &json!({"type": "integer", "format": "int64"}), "outside the reader's range");
        let reader = json!({"type": "integer", "format": "uint32", "minimum": 0});
        assert_breaks(&reader, &json!({"type": "integer", "format": "int32"}), "outside the reader's range");
    }

    #[test]
    fn an_unconstrained_writer_breaks_a_typed_reader_but_not_an_open_one() {
        assert_breaks(&json!({"type": "string"}), &json!(true), "the writer may send any value");
        assert_eq!(incompatibilities(&json!(true), &json!({"type": "string"})), Vec::<String>::new());
        assert_eq!(incompatibilities(&json!({"description": "any"}), &json!(true)), Vec::<String>::new());
    }

    #[test]
    fn a_reader_denying_unknown_fields_breaks_on_an_added_one() {
        let reader = with(v1(), |s| s["additionalProperties"] = json!(false));
        let writer = with(v1(), |s| s["properties"]["coupon"] = json!({"type": "string"}));
        assert_breaks(&reader, &writer, "`coupon`: the writer sends it, the reader denies unknown fields");
    }

    #[test]
    fn unresolvable_refs_are_reported() {
        let writer = with(v1(), |s| s["properties"]["total"] = json!({"$ref": "#/$defs/Nope"}));
        assert_breaks(&v1(), &writer, "does not resolve");
    }

    fn contract(event_type: &'static str, version: u32, schema: Value) -> EventContract {
        EventContract { topic: "order_events", event_type, version, schema }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shop-contracts-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn producers_record_new_and_compatible_schemas_only_in_update_mode() {
        let dir = temp_dir("producer");
        let first = [contract("order.created", 1, v1())];
        let problems = check_published_in(&dir, "shop-order", &first, false);
        assert!(
            problems[0].contains("UPDATE_EVENT_SCHEMAS=1 cargo nextest run -p shop-order event_contracts"),
            "{problems:?}"
        );
        assert!(check_published_in(&dir, "shop-order", &first, true).is_empty());
        assert_eq!(std::fs::read_to_string(dir.join("order.created.v1.json")).unwrap(), to_file_text(&v1()));
        assert!(check_published_in(&dir, "shop-order", &first, false).is_empty());

        let added =
            [contract("order.created", 1, with(v1(), |s| s["properties"]["coupon"] = json!({"type": "string"})))];
        let problems = check_published_in(&dir, "shop-order", &added, false);
        assert!(problems[0].contains("changed compatibly"), "{problems:?}");
        assert!(check_published_in(&dir, "shop-order", &added, true).is_empty());

        let removed = [contract("order.created", 1, with(v1(), |s| remove_field(s, "status")))];
        for update in [false, true] {
            let problems = check_published_in(&dir, "shop-order", &removed, update);
            assert!(problems[0].contains("changed incompatibly") && problems[0].contains("`status`"), "{problems:?}");
            assert!(problems[0].contains("raise the event's version"), "{problems:?}");
        }
        assert_eq!(std::fs::read_to_string(dir.join("order.created.v1.json")).unwrap(), to_file_text(&added[0].schema));
        let raised = [contract("order.created", 2, with(v1(), |s| remove_field(s, "status")))];
        assert!(check_published_in(&dir, "shop-order", &raised, true).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn consumers_need_a_published_version_they_can_read() {
        let dir = temp_dir("consumer");
        std::fs::write(dir.join("order.created.v1.json"), to_file_text(&v1())).unwrap();
        let reads_status =
            json!({"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]});
        assert!(check_consumed_in(&dir, &[contract("order.created", 1, reads_status.clone())]).is_empty());
        let problems = check_consumed_in(&dir, &[contract("order.created", 2, reads_status)]);
        assert!(problems[0].contains("nobody publishes it"), "{problems:?}");
        let reads_coupon =
            json!({"type": "object", "properties": {"coupon": {"type": "string"}}, "required": ["coupon"]});
        let problems = check_consumed_in(&dir, &[contract("order.created", 1, reads_coupon)]);
        assert!(problems[0].contains("`coupon`: required by the reader"), "{problems:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The rules on the real recorded schemas (schemars' shapes, not hand-written ones): each is
    /// compatible with itself, and dropping or nulling any required field breaks it.
    #[test]
    fn recorded_schemas_catch_removed_and_nulled_fields() {
        let mut checked = 0;
        for entry in std::fs::read_dir(schemas_dir()).unwrap() {
            let path = entry.unwrap().path();
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(incompatibilities(&schema, &schema), Vec::<String>::new(), "{}", path.display());
            for name in schema["required"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()) {
                let removed = with(schema.clone(), |s| remove_field(s, &name));
                assert_breaks(&schema, &removed, &format!("`{name}`: required by the reader"));
                let original = schema["properties"][&name].clone();
                if incompatibilities(&original, &json!({"type": "null"})).is_empty() {
                    continue; // already nullable
                }
                let nulled =
                    with(schema.clone(), |s| s["properties"][&name] = json!({"anyOf": [original, {"type": "null"}]}));
                assert_breaks(&schema, &nulled, &format!("`{name}`: the writer may send null"));
            }
            checked += 1;
        }
        assert!(checked > 0, "no schemas in {}", schemas_dir().display());
    }

    #[test]
    fn file_text_is_sorted_and_ends_with_a_newline() {
        let text = to_file_text(&json!({"b": 1, "a": {"d": 2, "c": 3}}));
        assert_eq!(text, "{\n  \"a\": {\n    \"c\": 3,\n    \"d\": 2\n  },\n  \"b\": 1\n}\n");
    }
}
