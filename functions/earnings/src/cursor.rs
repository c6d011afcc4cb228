//! The earnings listings' cursors: [`capecontrol_shared::cursor`] under this listing's purpose
//! (unchanged since cursors were first issued, so cursors in clients' hands stay valid).

use capecontrol_shared::cursor::Cursors;
use capecontrol_shared::keyring::KeySet;

use crate::EarningsError;

const CURSORS: Cursors = Cursors::new(b"capecontrol earnings cursor v1");

pub(crate) fn encode(keys: &KeySet, scope: &str, position: &str) -> String {
    CURSORS.encode(keys, scope, position)
}

pub(crate) fn decode(keys: &KeySet, scope: &str, cursor: &str) -> Result<String, EarningsError> {
    CURSORS
        .decode(keys, scope, cursor)
        .map_err(|_| EarningsError::InvalidCursor)
}
