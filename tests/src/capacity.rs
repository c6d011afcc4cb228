//! DynamoDB item sizes and the capacity units a call consumes, computed from the items by
//! DynamoDB's published rules, over the low-level JSON of requests and answers (what
//! `infra/count_proxy.py` records). The emulator's own ConsumedCapacity is not truthful.
//!
//! Item size: the UTF-8 length of every attribute name plus the size of its value. Strings:
//! UTF-8 bytes; binary: raw bytes; numbers: one byte per two significant digits plus one (plus
//! one when negative); booleans and null: 1; lists and maps: 3 bytes plus, per element, 1 byte
//! and the element (a map element's name counted too); sets: the sum of their members.
//!
//! Units: a read is 4 KB units (rounded up, at least one) at 0.5 RCU eventually consistent,
//! 1 strongly consistent, 2 in a transaction; a Query rounds the sum of its items once. A
//! write is 1 KB units of the larger of the item before and after, at 1 WCU, 2 in a
//! transaction. A global secondary index that holds the item costs its own write (a delete
//! and a put when the index key changes) of the projected item plus 100 bytes.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// A table key (pk, sk) as text.
pub type Key = (String, String);
/// Items by key: a snapshot of the table.
pub type Snapshot = HashMap<Key, Map<String, Value>>;

const INDEX_ENTRY_OVERHEAD: usize = 100;

/// Size in bytes of one attribute value in DynamoDB JSON (`{"S": "..."}` and so on).
pub fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|map| map.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(text)) => text.len(),
        ("N", Value::String(number)) => number_size(number),
        ("B", Value::String(encoded)) => binary_size(encoded),
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(members)) => {
            members.iter().filter_map(Value::as_str).map(str::len).sum()
        }
        ("NS", Value::Array(members)) => members
            .iter()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        ("BS", Value::Array(members)) => members
            .iter()
            .filter_map(Value::as_str)
            .map(binary_size)
            .sum(),
        ("L", Value::Array(elements)) => {
            3 + elements.iter().map(|e| 1 + value_size(e)).sum::<usize>()
        }
        ("M", Value::Object(entries)) => {
            3 + entries
                .iter()
                .map(|(name, e)| 1 + name.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Size in bytes of an item: names and values.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// One byte per two significant digits (leading and trailing zeros trimmed), plus one, plus
/// one for a negative number.
fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    let sign = usize::from(number.starts_with('-'));
    significant.div_ceil(2) + 1 + sign
}

fn binary_size(encoded: &str) -> usize {
    let padding = encoded.bytes().rev().take_while(|&b| b == b'=').count();
    (encoded.len() / 4 * 3).saturating_sub(padding)
}

/// Read capacity units of reading `size` bytes.
pub fn read_units(size: usize, consistent: bool, transactional: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    let rate = match (transactional, consistent) {
        (true, _) => 2.0,
        (false, true) => 1.0,
        (false, false) => 0.5,
    };
    units * rate
}

/// Write capacity units of writing an item of `size` bytes.
pub fn write_units(size: usize, transactional: bool) -> f64 {
    let units = size.div_ceil(1024).max(1) as f64;
    if transactional {
        units * 2.0
    } else {
        units
    }
}

/// The (pk, sk) of an item or key map.
pub fn key_of(item: &Map<String, Value>) -> Option<Key> {
    let text = |name: &str| item.get(name)?.get("S")?.as_str().map(str::to_owned);
    Some((text("pk")?, text("sk")?))
}

/// What a global secondary index holds: its key attributes and projection.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub hash: String,
    pub range: Option<String>,
    /// None: every attribute (ALL); otherwise the non-key attributes projected.
    pub projected: Option<Vec<String>>,
}

impl Index {
    /// The indexes of a CreateTable definition (the JSON of `TABLE_DEFINITION_FILE`).
    pub fn from_definition(definition: &Value) -> Vec<Self> {
        let Some(indexes) = definition["GlobalSecondaryIndexes"].as_array() else {
            return Vec::new();
        };
        indexes.iter().filter_map(Self::from_json).collect()
    }

    fn from_json(index: &Value) -> Option<Self> {
        let key_named = |kind: &str| {
            index["KeySchema"].as_array()?.iter().find_map(|element| {
                (element["KeyType"] == kind).then(|| element["AttributeName"].as_str())?
            })
        };
        let projection = &index["Projection"];
        let projected = match projection["ProjectionType"].as_str() {
            Some("ALL") => None,
            Some("INCLUDE") => Some(
                projection["NonKeyAttributes"]
                    .as_array()?
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => Some(Vec::new()),
        };
        Some(Self {
            name: index["IndexName"].as_str()?.to_owned(),
            hash: key_named("HASH")?.to_owned(),
            range: key_named("RANGE").map(str::to_owned),
            projected,
        })
    }

    /// The entry this index holds for `item`, if it holds one.
    fn entry(&self, item: &Map<String, Value>) -> Option<Map<String, Value>> {
        item.get(&self.hash)?;
        if let Some(range) = &self.range {
            item.get(range)?;
        }
        let keep = |name: &str| match &self.projected {
            None => true,
            Some(names) => {
                ["pk", "sk", self.hash.as_str()].contains(&name)
                    || self.range.as_deref() == Some(name)
                    || names.iter().any(|n| n == name)
            }
        };
        Some(
            item.iter()
                .filter(|(name, _)| keep(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        )
    }

    /// Write units this index costs for an item going from `before` to `after`.
    pub fn write_units(
        &self,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
    ) -> f64 {
        let old = before.and_then(|item| self.entry(item));
        let new = after.and_then(|item| self.entry(item));
        let cost = |entry: &Map<String, Value>| {
            write_units(item_size(entry) + INDEX_ENTRY_OVERHEAD, false)
        };
        let same_key = |a: &Map<String, Value>, b: &Map<String, Value>| {
            a.get(&self.hash) == b.get(&self.hash)
                && self.range.as_ref().is_none_or(|r| a.get(r) == b.get(r))
        };
        match (old, new) {
            (None, None) => 0.0,
            (Some(old), None) => cost(&old),
            (None, Some(new)) => cost(&new),
            (Some(old), Some(new)) if old == new => 0.0,
            (Some(old), Some(new)) if same_key(&old, &new) => cost(&old).max(cost(&new)),
            (Some(old), Some(new)) => cost(&old) + cost(&new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sizes_follow_the_published_rules() {
        // "pk" 2 + "USER#1" 6; "n" 1 + 12345 (5 digits: 3 + 1); "ok" 2 + 1;
        // "m" 1 + (3 + 1 + "a" 1 + "xy" 2); "l" 1 + (3 + 1 + "-0.0100" (1 digit: 1 + 1 + 1)).
        let sized = item(json!({
            "pk": {"S": "USER#1"},
            "n": {"N": "12345"},
            "ok": {"BOOL": true},
            "m": {"M": {"a": {"S": "xy"}}},
            "l": {"L": [{"N": "-0.0100"}]},
        }));
        assert_eq!(item_size(&sized), 8 + 5 + 3 + 8 + 8);
        assert_eq!(value_size(&json!({"S": "Straße"})), 7);
        assert_eq!(value_size(&json!({"B": "AAEC"})), 3);
        assert_eq!(value_size(&json!({"SS": ["ab", "c"]})), 3);
    }

    #[test]
    fn units_round_up_per_kind_of_call() {
        assert_eq!(read_units(0, false, false), 0.5);
        assert_eq!(read_units(4097, true, false), 2.0);
        assert_eq!(read_units(100, false, true), 2.0);
        assert_eq!(write_units(1025, false), 2.0);
        assert_eq!(write_units(10, true), 2.0);
    }

    #[test]
    fn an_index_costs_only_when_it_holds_the_item_and_the_entry_changes() {
        let index = Index {
            name: "gsi1".into(),
            hash: "gsi1pk".into(),
            range: Some("gsi1sk".into()),
            projected: None,
        };
        let plain = item(json!({"pk": {"S": "a"}, "sk": {"S": "b"}}));
        let indexed = item(json!({
            "pk": {"S": "a"}, "sk": {"S": "b"}, "gsi1pk": {"S": "x"}, "gsi1sk": {"S": "y"},
        }));
        let mut moved = indexed.clone();
        moved.insert("gsi1pk".into(), json!({"S": "z"}));
        assert_eq!(index.write_units(None, Some(&plain)), 0.0);
        assert_eq!(index.write_units(None, Some(&indexed)), 1.0);
        assert_eq!(index.write_units(Some(&indexed), Some(&indexed)), 0.0);
        assert_eq!(index.write_units(Some(&indexed), Some(&moved)), 2.0);
    }
}
