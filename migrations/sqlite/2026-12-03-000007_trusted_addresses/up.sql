-- Addresses an account recently authenticated from with the right
-- password: guessing from elsewhere can lock the account without locking
-- out the peer that syncs from its usual address.
CREATE TABLE trusted_addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    last_success TIMESTAMP NOT NULL,
    UNIQUE (user_id, address)
);
