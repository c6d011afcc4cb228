//! Who is calling: the access token says who, the user item says what they may do now. A
//! token minted before the last revocation (older token version), or for a deactivated
//! account, is refused; the role and the verification come from the item, not the claims.

use anyhow::Context;
use capecontrol_shared::auth;
use capecontrol_shared::db;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{self, Role, UserId, UserItem};
use capecontrol_shared::store::{self as keys};
use lambda_http::Request;

use crate::EarningsError;

/// A verified developer or admin, as the user item stands.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub id: UserId,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), EarningsError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(EarningsError::Forbidden)
        }
    }

    /// The developer a request is about: the caller, unless an admin names another. A
    /// developer naming anyone but themselves is refused.
    pub fn developer_in_scope(&self, named: Option<UserId>) -> Result<UserId, EarningsError> {
        match named {
            Some(id) if id != self.id && !self.is_admin() => Err(EarningsError::Forbidden),
            Some(id) => Ok(id),
            None => Ok(self.id.clone()),
        }
    }
}

pub(crate) async fn caller(state: &AppState, request: &Request) -> Result<Caller, EarningsError> {
    let profile = auth::authenticate(state, request).await?.profile;
    match profile.role {
        Role::Customer => Err(EarningsError::Forbidden),
        _ if !profile.is_verified => Err(EarningsError::NotVerified),
        role => Ok(Caller {
            id: profile.id,
            role,
        }),
    }
}

/// Whether `id` names an active developer (for an admin acting on a developer's behalf).
pub(crate) async fn active_developer(state: &AppState, id: &UserId) -> anyhow::Result<bool> {
    let key = keys::key(users::pk(id), users::PROFILE_SK);
    let item: Option<UserItem> = db::get(&state.dynamo, state.table(), key)
        .await
        .context("read the developer")?;
    Ok(item.is_some_and(|item| item.profile.role == Role::Developer && item.profile.is_active))
}
