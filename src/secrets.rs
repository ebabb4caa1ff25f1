//! The node's secret key and the encryption of stored peer and proxy
//! passwords (XChaCha20-Poly1305 under a key derived from the secret key).
//!
//! The database keeps a key-check value (an HMAC of a fixed label), so a start
//! with a missing or different key is noticed before any secret is used, and
//! a new key is never generated over secrets the old one encrypted.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use diesel::Connection;

use crate::db::DbConnection;
use crate::model;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const CHECK_LABEL: &[u8] = b"edensync key check v1";
const ENCRYPTION_LABEL: &[u8] = b"edensync stored secrets v1";
const CIPHERTEXT_PREFIX: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{0}")]
    Key(String),
    #[error("stored secret cannot be decrypted: {0}")]
    Decrypt(&'static str),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl From<diesel::result::Error> for SecretsError {
    fn from(e: diesel::result::Error) -> Self {
        SecretsError::Db(e.into())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; KEY_LEN];
        rand::fill(&mut bytes);
        SecretKey(bytes)
    }

    /// The key as written to `secret.key` or given in `EDENSYNC_SECRET_KEY`:
    /// 32 bytes in standard base64.
    pub fn to_text(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn from_text(text: &str) -> Result<SecretKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64 (expected 32 random bytes in base64)".to_string())?;
        let bytes: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| format!("must be {KEY_LEN} bytes in base64"))?;
        Ok(SecretKey(bytes))
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes any key length");
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    /// A value that identifies the key without revealing it.
    pub fn check_value(&self) -> String {
        hex::encode(self.derive(CHECK_LABEL))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.derive(ENCRYPTION_LABEL).into())
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .expect("encryption of an in-memory buffer cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{CIPHERTEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    pub fn decrypt(&self, sealed: &str) -> Result<String, SecretsError> {
        let encoded = sealed
            .strip_prefix(CIPHERTEXT_PREFIX)
            .ok_or(SecretsError::Decrypt("unknown format"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretsError::Decrypt("not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretsError::Decrypt("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        let plaintext = self
            .cipher()
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| SecretsError::Decrypt("wrong key or damaged data"))?;
        String::from_utf8(plaintext).map_err(|_| SecretsError::Decrypt("not UTF-8"))
    }
}

/// Where the node's key lives: given in the environment, or a file in the
/// data directory.
#[derive(Debug, Clone)]
pub struct KeyLocation {
    /// `EDENSYNC_SECRET_KEY`: the key itself.
    pub secret_key: Option<String>,
    /// `<data dir>/secret.key`.
    pub key_file: PathBuf,
    /// Where a rotation's new key waits until it is in use.
    pub pending_file: PathBuf,
}

/// Where the key came from, for messages.
fn key_source(keys: &KeyLocation) -> String {
    if keys.secret_key.is_some() {
        "EDENSYNC_SECRET_KEY".to_string()
    } else {
        keys.key_file.display().to_string()
    }
}

/// Load the node's key (from `EDENSYNC_SECRET_KEY` or `<data dir>/secret.key`),
/// creating it on first start, and check it against the database.
pub fn load_or_create(
    keys: &KeyLocation,
    conn: &mut DbConnection,
) -> Result<SecretKey, SecretsError> {
    let db = |e: diesel::result::Error| SecretsError::Db(e.into());
    let stored_check = model::sync_config::get(conn)
        .map_err(db)?
        .and_then(|c| c.key_check);
    let secrets = model::repositories::count_encrypted_secrets(conn).map_err(db)?;
    let source = key_source(keys);

    let key = match read_key(keys)? {
        Some(key)
            if stored_check
                .as_ref()
                .is_some_and(|c| *c != key.check_value()) =>
        {
            finish_interrupted_rotation(keys, stored_check.as_deref())?.unwrap_or(key)
        }
        Some(key) => key,
        None if secrets > 0 => {
            return Err(SecretsError::Key(format!(
                "secret key missing: {source} does not exist, but {secrets} stored password(s) \
                 are encrypted with it; restore the file (or set EDENSYNC_SECRET_KEY) — a new \
                 key would make them unreadable"
            )));
        }
        None => {
            let key = SecretKey::generate();
            write_key_file(&keys.key_file, &key)?;
            tracing::info!(path = %source, "created a new secret key");
            key
        }
    };

    let check = key.check_value();
    match stored_check {
        Some(stored) if stored == check => {}
        Some(stored) if secrets > 0 => {
            if pending_key_matching(keys, &stored).is_some() {
                return Err(SecretsError::Key(format!(
                    "the secret key was rotated: set {source} to the new key in {} (then delete \
                     that file)",
                    keys.pending_file.display()
                )));
            }
            return Err(SecretsError::Key(format!(
                "wrong secret key: the key in {source} is not the one {secrets} stored \
                 password(s) were encrypted with; restore the original key"
            )));
        }
        // Another process (or an earlier data directory) set up this
        // database with its own key. Taking ours would break that process's
        // secrets as soon as it stores one: refuse, and say how to share.
        Some(_) => {
            return Err(SecretsError::Key(format!(
                "this database belongs to a node with another secret key than the one in \
                 {source}: every edensync process on one database must use the same key. Copy \
                 secret.key from the data directory of the process that set up the database \
                 (or set EDENSYNC_SECRET_KEY to the same value everywhere). Nothing is \
                 encrypted with the database's key yet: if that key is lost, `edensync secrets \
                 adopt` makes this one the database's key"
            )));
        }
        // A new database: the first process to claim it sets the key; one
        // that lost the race with another key refuses, as above.
        None => {
            if !model::sync_config::claim_key_check(conn, &check).map_err(db)? {
                return Err(SecretsError::Key(format!(
                    "another edensync process set up this database with its own secret key a \
                     moment ago: every process on one database must use the same key. Copy \
                     secret.key from that process's data directory to {source} (or set \
                     EDENSYNC_SECRET_KEY to the same value everywhere), then start again"
                )));
            }
        }
    }
    Ok(key)
}

/// Make the key in `keys` the database's key, when nothing is encrypted
/// with the database's own (its key was lost before any password was
/// stored). Creates the key when there is none.
pub fn adopt(keys: &KeyLocation, conn: &mut DbConnection) -> Result<(), SecretsError> {
    use diesel::Connection;
    conn.transaction(|conn| adopt_in(keys, conn))
}

fn adopt_in(keys: &KeyLocation, conn: &mut DbConnection) -> Result<(), SecretsError> {
    let db = |e: diesel::result::Error| SecretsError::Db(e.into());
    let secrets = model::repositories::count_encrypted_secrets(conn).map_err(db)?;
    if secrets > 0 {
        return Err(SecretsError::Key(format!(
            "{secrets} stored password(s) are encrypted with the database's key: adopting \
             another would make them unreadable; restore the original key instead"
        )));
    }
    let key = match read_key(keys)? {
        Some(key) => key,
        None => {
            let key = SecretKey::generate();
            write_key_file(&keys.key_file, &key)?;
            key
        }
    };
    model::sync_config::set_key_check(conn, &key.check_value()).map_err(db)?;
    Ok(())
}

/// The key a rotation left in `secret.key.new`, if it is the one the
/// database's check value names.
fn pending_key_matching(keys: &KeyLocation, check: &str) -> Option<SecretKey> {
    let text = std::fs::read_to_string(&keys.pending_file).ok()?;
    SecretKey::from_text(&text)
        .ok()
        .filter(|key| key.check_value() == check)
}

/// A rotation that committed the database but stopped before renaming its
/// new key file into place: the pending key matches the stored check, so
/// finish the rename and use it.
fn finish_interrupted_rotation(
    keys: &KeyLocation,
    stored_check: Option<&str>,
) -> Result<Option<SecretKey>, SecretsError> {
    if keys.secret_key.is_some() {
        return Ok(None);
    }
    let Some(key) = stored_check.and_then(|check| pending_key_matching(keys, check)) else {
        return Ok(None);
    };
    let pending = keys.pending_file.as_path();
    std::fs::rename(pending, &keys.key_file).map_err(|e| {
        SecretsError::Key(format!(
            "cannot finish the interrupted key rotation (rename {} to {}): {e}",
            pending.display(),
            keys.key_file.display()
        ))
    })?;
    tracing::warn!("finished an interrupted key rotation: secret.key now holds the new key");
    Ok(Some(key))
}

/// What `secrets rotate` did.
pub struct Rotation {
    /// Stored passwords re-encrypted.
    pub reencrypted: usize,
    /// The file holding the new key: `secret.key`, or, when the key comes
    /// from EDENSYNC_SECRET_KEY, `secret.key.new` for the operator to copy
    /// into the environment.
    pub key_file: PathBuf,
    pub from_environment: bool,
}

/// Re-encrypt every stored password under a fresh key, all in one
/// transaction, and replace the key.
///
/// The new key is first written next to the old one (`secret.key.new`,
/// 0600), then the database is committed, then the file is renamed over the
/// old key: a crash between the two is finished at the next start
/// (`finish_interrupted_rotation`), and a failure before the commit leaves
/// everything under the old key. When the key comes from the environment,
/// the new key stays in that file for the operator: it never exists only on
/// a terminal.
pub fn rotate(
    keys: &KeyLocation,
    conn: &mut DbConnection,
    old: &SecretKey,
) -> Result<Rotation, SecretsError> {
    let new_key = SecretKey::generate();
    let from_environment = keys.secret_key.is_some();
    let pending = keys.pending_file.as_path();
    // A leftover from an earlier rotation: never committed, or already
    // finished at start-up (a key from the environment checked out), so not
    // needed.
    let _ = std::fs::remove_file(pending);
    write_key_file(pending, &new_key)?;
    #[cfg(unix)]
    if let Ok(old_file) = std::fs::metadata(&keys.key_file) {
        // Rotated by root for a service account: the new key keeps the old
        // key's owner, or the service could not read it.
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::chown(pending, Some(old_file.uid()), Some(old_file.gid()));
    }
    let reencrypted = conn.transaction(|conn| -> Result<usize, SecretsError> {
        let reseal = |sealed: Option<String>, what: &str| -> Result<Option<String>, SecretsError> {
            sealed
                .map(|s| {
                    old.decrypt(&s)
                        .map(|plain| new_key.encrypt(&plain))
                        .map_err(|e| SecretsError::Key(format!("{what}: {e}")))
                })
                .transpose()
        };
        let mut count = 0;
        for (id, password, proxy_password) in model::repositories::encrypted_secrets(conn)? {
            count += usize::from(password.is_some()) + usize::from(proxy_password.is_some());
            let password = reseal(password, &format!("repository {id}, peer password"))?;
            let proxy = reseal(proxy_password, &format!("repository {id}, proxy password"))?;
            model::repositories::set_encrypted_secrets(
                conn,
                id,
                password.as_deref(),
                proxy.as_deref(),
            )?;
        }
        if let Some(config) = model::sync_config::get(conn)? {
            if config.proxy_password_enc.is_some() {
                count += 1;
            }
            let proxy = reseal(config.proxy_password_enc, "default proxy password")?;
            model::sync_config::set_proxy_password_enc(conn, proxy.as_deref())?;
        }
        model::sync_config::set_key_check(conn, &new_key.check_value())?;
        Ok(count)
    });
    let reencrypted = match reencrypted {
        Ok(count) => count,
        Err(e) => {
            let _ = std::fs::remove_file(pending);
            return Err(e);
        }
    };
    if from_environment {
        return Ok(Rotation {
            reencrypted,
            key_file: pending.to_path_buf(),
            from_environment,
        });
    }
    let path = keys.key_file.clone();
    std::fs::rename(pending, &path).map_err(|e| {
        SecretsError::Key(format!(
            "the stored passwords are now encrypted with the key in {}, but it could not \
             replace {}: {e}; move it there by hand before the next start",
            pending.display(),
            path.display()
        ))
    })?;
    Ok(Rotation {
        reencrypted,
        key_file: path,
        from_environment,
    })
}

fn read_key(keys: &KeyLocation) -> Result<Option<SecretKey>, SecretsError> {
    if let Some(text) = &keys.secret_key {
        return SecretKey::from_text(text)
            .map(Some)
            .map_err(|m| SecretsError::Key(format!("secret key (EDENSYNC_SECRET_KEY) {m}")));
    }
    let path = keys.key_file.clone();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            SecretKey::from_text(&text)
                .map(Some)
                .map_err(|m| SecretsError::Key(format!("secret key file {} {m}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SecretsError::Key(format!(
            "cannot read secret key file {}: {e}",
            path.display()
        ))),
    }
}

/// The key opens every stored peer password: say so when other accounts
/// on this machine can read it.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the secret key file can be read by other users of this machine: it decrypts every stored peer password; run chmod 600 on it"
            );
        }
    }
}

fn write_key_file(path: &Path, key: &SecretKey) -> Result<(), SecretsError> {
    let fail = |e: std::io::Error| {
        SecretsError::Key(format!(
            "cannot write secret key file {}: {e}",
            path.display()
        ))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    writeln!(file, "{}", key.to_text()).map_err(fail)?;
    file.sync_all().map_err(fail)
}
