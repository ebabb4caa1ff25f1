use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{repositories, sync_config};

/// How many stored passwords are encrypted under the node's secret key
/// (peer passwords, proxy passwords): a key may only be replaced when none is.
pub fn count_encrypted_secrets(conn: &mut DbConnection) -> QueryResult<i64> {
    let peer: i64 = repositories::table
        .filter(repositories::password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    let peer_proxy: i64 = repositories::table
        .filter(repositories::proxy_password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    let default_proxy: i64 = sync_config::table
        .filter(sync_config::proxy_password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(peer + peer_proxy + default_proxy)
}
