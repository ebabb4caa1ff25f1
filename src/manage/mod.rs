//! Validated configuration changes: repositories, their tasks and jobs, and
//! the node's settings. The command line and the console both call these
//! functions, so both accept and refuse the same things.
//! Every change is written to the audit log; passwords never are.

pub mod bundle;
pub mod jobs;
pub mod peers;
pub mod repositories;
pub mod review;
pub mod schedule;
pub mod schedule_words;
pub mod settings;
pub mod tasks;

use crate::db::DbError;

/// One problem with one field of a form, worded for an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Every problem of the form at once, so it can be fixed in one go.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// A file could not be read or written, or is not what it should be.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A file operation's error as a `ManageError` naming the file.
pub(crate) trait ManageErrorExt<T> {
    fn failed(self, what: &str) -> Result<T, ManageError>;
}

impl<T> ManageErrorExt<T> for std::io::Result<T> {
    fn failed(self, what: &str) -> Result<T, ManageError> {
        self.map_err(|e| ManageError::Failed(format!("{what}: {e}")))
    }
}

impl From<diesel::result::Error> for ManageError {
    fn from(e: diesel::result::Error) -> Self {
        ManageError::Db(e.into())
    }
}

impl ManageError {
    /// A form with a single problem.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
        ManageError::Invalid(vec![FieldError {
            field,
            message: message.into(),
        }])
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects a form's problems while it is checked.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// Whether a problem with this field was found already.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// `Ok` when nothing was wrong, else every problem found.
    pub fn finish(self) -> Result<(), ManageError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ManageError::Invalid(self.0))
        }
    }
}

/// What to do with a stored password when a form is saved. Passwords are
/// write-only: a form never shows the stored one back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PasswordChange {
    #[default]
    Keep,
    Set(String),
    Clear,
}

/// Check a URL an administrator entered for a peer or a proxy: http or
/// https, parseable, with a host and without credentials (those have fields
/// of their own, where they are stored encrypted).
fn check_http_url(errors: &mut FieldErrors, field: &'static str, text: &str) {
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        errors.add(field, "must start with http:// or https://");
        return;
    }
    match url::Url::parse(text) {
        Err(e) => errors.add(field, format!("is not a valid URL ({e})")),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            errors.add(field, "has no host name")
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => errors.add(
            field,
            "must not contain a username or password (they have settings of their own)",
        ),
        Ok(_) => {}
    }
}

/// Trimmed text, or `None` when nothing was entered.
fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}
