//! The count of active admins, one item, so that no change can leave the marketplace without
//! one. Every transaction that makes or unmakes an active admin (a role change, a deactivation
//! or reactivation, `make admin`, an account deletion) carries [`count_change`] beside the
//! profile write: a removal's condition is that another active admin remains, so two admins
//! demoting each other at once cannot both succeed (their transactions both write this item:
//! one wins, the other's condition then fails, or DynamoDB reports a conflict and the retry
//! sees the new count).
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | active-admin count | `ADMINS` | `COUNT` | `active_admins` (number) |
//!
//! The profile write in the same transaction must be conditional on the state it changes (role
//! and `is_active` as read), so that the count moves only with a real change.

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::users::{Profile, Role};

pub const PK: &str = "ADMINS";
pub const SK: &str = "COUNT";
pub const COUNT: &str = "active_admins";

/// Whether a user in this state counts as an active admin.
pub fn is_active_admin(role: Role, is_active: bool) -> bool {
    role == Role::Admin && is_active
}

/// How a change from `before` to `after` (role, active) moves the count: -1, 0 or +1.
pub fn delta(before: (Role, bool), after: (Role, bool)) -> i64 {
    i64::from(is_active_admin(after.0, after.1)) - i64::from(is_active_admin(before.0, before.1))
}

/// The write that moves the count by `delta`, or none for 0. A decrease is conditional on at
/// least one active admin remaining afterwards; its failure means "the last admin"
/// ([`LAST_ADMIN_HINT`]).
pub fn count_change(table: &str, delta: i64) -> anyhow::Result<Option<TransactWriteItem>> {
    if delta == 0 {
        return Ok(None);
    }
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(super::key(PK, SK)))
        .update_expression("ADD #count :delta")
        .expression_attribute_names("#count", COUNT)
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()));
    if delta < 0 {
        update = update
            .condition_expression("#count >= :needed")
            .expression_attribute_values(":needed", AttributeValue::N((1 - delta).to_string()));
    }
    let update = update.build().context("build the admin count change")?;
    Ok(Some(TransactWriteItem::builder().update(update).build()))
}

/// For a deletion (the account helper's `DELETE /users/me`): the count write when `profile`
/// is an active admin, none otherwise. Put it in the transaction that makes the account dead;
/// its condition failing means the account is the last active admin and must stay.
pub fn leaving(table: &str, profile: &Profile) -> anyhow::Result<Option<TransactWriteItem>> {
    count_change(
        table,
        delta((profile.role, profile.is_active), (Role::Customer, false)),
    )
}

/// What a failed condition on the count item means, for error messages and logs.
pub const LAST_ADMIN_HINT: &str = "the last active admin cannot be removed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        assert_eq!((PK, SK, COUNT), ("ADMINS", "COUNT", "active_admins"));
    }

    #[test]
    fn only_changes_into_or_out_of_active_admin_move_the_count() {
        use Role::{Admin, Customer, Developer};
        assert_eq!(delta((Admin, true), (Developer, true)), -1);
        assert_eq!(delta((Admin, true), (Admin, false)), -1);
        assert_eq!(delta((Admin, false), (Admin, true)), 1);
        assert_eq!(delta((Customer, true), (Admin, true)), 1);
        assert_eq!(delta((Customer, true), (Admin, false)), 0);
        assert_eq!(delta((Admin, true), (Admin, true)), 0);
        assert_eq!(delta((Developer, true), (Customer, false)), 0);
    }

    #[test]
    fn a_decrease_requires_an_admin_to_remain_and_an_increase_requires_nothing() {
        let down = count_change("t", -1).expect("build").expect("a write");
        let down = down.update().expect("update");
        assert_eq!(down.condition_expression(), Some("#count >= :needed"));
        let values = down.expression_attribute_values().expect("values");
        assert_eq!(values[":needed"], AttributeValue::N("2".into()));
        let up = count_change("t", 1).expect("build").expect("a write");
        assert_eq!(up.update().expect("update").condition_expression(), None);
        assert!(count_change("t", 0).expect("build").is_none());
    }
}
