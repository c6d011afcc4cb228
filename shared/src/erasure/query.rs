//! The key queries the purge and the export read a user's items with: a base-table partition
//! (strongly consistent) or a gsi1 partition (eventually consistent), a page at a time.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use crate::state::AppState;
use crate::store::{Item, GSI1, PK, SK};

#[derive(Debug, Clone)]
pub struct Partition {
    index: bool,
    value: String,
    sk_prefix: Option<String>,
    /// `sk >= from` (base table) or `gsi1sk >= from` (index).
    from: Option<String>,
}

impl Partition {
    pub fn base(pk: impl Into<String>) -> Self {
        Self {
            index: false,
            value: pk.into(),
            sk_prefix: None,
            from: None,
        }
    }

    pub fn index(gsi1pk: impl Into<String>) -> Self {
        Self {
            index: true,
            ..Self::base(gsi1pk)
        }
    }

    pub fn prefix(mut self, prefix: &str) -> Self {
        self.sk_prefix = Some(prefix.to_owned());
        self
    }

    /// Items whose sort key is `from` or after it.
    pub fn from(mut self, from: &str) -> Self {
        self.from = Some(from.to_owned());
        self
    }

    /// At most `limit` items after `start` (a LastEvaluatedKey), and where the next page starts.
    pub async fn page(
        &self,
        state: &AppState,
        limit: i32,
        start: Option<Item>,
    ) -> anyhow::Result<(Vec<Item>, Option<Item>)> {
        let (pk_name, sk_name) = if self.index {
            ("gsi1pk", "gsi1sk")
        } else {
            (PK, SK)
        };
        let mut condition = "#pk = :pk".to_owned();
        let mut request = state
            .dynamo
            .query()
            .table_name(state.table())
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", AttributeValue::S(self.value.clone()))
            .limit(limit)
            .set_exclusive_start_key(start);
        if let Some(prefix) = &self.sk_prefix {
            condition.push_str(" AND begins_with(#sk, :prefix)");
            request = request
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.clone()));
        } else if let Some(from) = &self.from {
            condition.push_str(" AND #sk >= :from");
            request = request
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":from", AttributeValue::S(from.clone()));
        }
        request = if self.index {
            request.index_name(GSI1)
        } else {
            request.consistent_read(true)
        };
        let output = request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("query {pk_name}: {}", DisplayErrorContext(&e)))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

/// Partitions keyed by a token's SHA-256: the export names them by a hash of that hash, so that
/// it shows no token hash yet lets an item be matched with the table.
const HASHED_PREFIXES: [&str; 3] = ["REFRESH#", "RESET#", "VERIFY#"];

/// How the export names an item: `<pk>|<sk>`, with a token hash in the key replaced by
/// `sha256:<hex of its SHA-256>`.
pub fn export_key(pk: &str, sk: &str) -> String {
    for prefix in HASHED_PREFIXES {
        if let Some(hash) = pk.strip_prefix(prefix) {
            let hidden = hex::encode(Sha256::digest(hash.as_bytes()));
            return format!("{prefix}sha256:{hidden}|{sk}");
        }
    }
    format!("{pk}|{sk}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_hidden_in_export_keys() {
        assert_eq!(export_key("USER#u", "SESSION#f"), "USER#u|SESSION#f");
        let key = export_key("REFRESH#abcd", "REFRESH");
        assert!(key.starts_with("REFRESH#sha256:"), "{key}");
        assert!(!key.contains("abcd"), "{key}");
    }
}
