use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::setup_tokens;

#[derive(Insertable)]
#[diesel(table_name = setup_tokens)]
struct NewSetupToken<'a> {
    token_hash: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(setup_tokens::table)
        .values(NewSetupToken {
            token_hash,
            created_at: now,
            expires_at,
        })
        .execute(conn)
}

/// Whether an unused, unexpired token has this hash.
pub fn is_valid(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        setup_tokens::table
            .filter(setup_tokens::token_hash.eq(token_hash))
            .filter(setup_tokens::used_at.is_null())
            .filter(setup_tokens::expires_at.gt(now)),
    ))
    .get_result(conn)
}

/// Spend the token; returns false if it was already used or expired. The
/// conditional update makes the token single-use even under concurrent posts.
pub fn consume(conn: &mut DbConnection, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        setup_tokens::table
            .filter(setup_tokens::token_hash.eq(token_hash))
            .filter(setup_tokens::used_at.is_null())
            .filter(setup_tokens::expires_at.gt(now)),
    )
    .set(setup_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Expire every outstanding token (a new link replaces older ones).
pub fn expire_unused(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        setup_tokens::table
            .filter(setup_tokens::used_at.is_null())
            .filter(setup_tokens::expires_at.gt(now)),
    )
    .set(setup_tokens::expires_at.eq(now))
    .execute(conn)
}
