//! Who is calling: the access token says who, the user item says whether they are an admin
//! now. Stale tokens (older token version) and deactivated accounts are refused by
//! `shared::auth` before the role is looked at.

use capecontrol_shared::auth;
use capecontrol_shared::state::AppState;
use capecontrol_shared::store::users::{Profile, Role};
use lambda_http::Request;

use crate::AdminError;

/// The calling admin's profile, as stored now.
pub(crate) async fn admin(state: &AppState, request: &Request) -> Result<Profile, AdminError> {
    let profile = auth::authenticate(state, request).await?.profile;
    if profile.role == Role::Admin {
        Ok(profile)
    } else {
        Err(AdminError::Forbidden)
    }
}
