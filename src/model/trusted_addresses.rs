//! Addresses an account recently proved its password from (the "device"
//! of OWASP's lockout advice, for clients without cookies): an account
//! locked by guesses from elsewhere still lets them in.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::trusted_addresses;

/// Whether `user_id` proved its password from `address` since `since`.
pub fn is_trusted(
    conn: &mut DbConnection,
    user_id: i64,
    address: &str,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        trusted_addresses::table
            .filter(trusted_addresses::user_id.eq(user_id))
            .filter(trusted_addresses::address.eq(address))
            .filter(trusted_addresses::last_success.ge(since)),
    ))
    .get_result(conn)
}

/// Note a proof of the password from `address` (portable upsert).
pub fn remember(
    conn: &mut DbConnection,
    user_id: i64,
    address: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let updated = diesel::update(
        trusted_addresses::table
            .filter(trusted_addresses::user_id.eq(user_id))
            .filter(trusted_addresses::address.eq(address)),
    )
    .set(trusted_addresses::last_success.eq(now))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(trusted_addresses::table)
            .values((
                trusted_addresses::user_id.eq(user_id),
                trusted_addresses::address.eq(address),
                trusted_addresses::last_success.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
