//! New passwords from the operator: `--password-stdin` or the terminal.

use std::io::{IsTerminal, Read};

use clap::Args;

use super::CliError;

#[derive(Args)]
pub(super) struct PasswordSource {
    /// Read the password from standard input (to end of file; one trailing newline is removed).
    #[arg(long)]
    pub(super) password_stdin: bool,
}

/// Read a new password: from stdin with `--password-stdin`, else by asking
/// twice on the terminal. Without a terminal and without the flag, fail
/// rather than wait for input that never comes.
pub(super) fn read_password(source: &PasswordSource) -> Result<String, CliError> {
    if source.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the password from stdin: {e}")))?;
        let password = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text)
            .to_string();
        if password.is_empty() {
            return Err(CliError::Usage(
                "the password read from stdin is empty".into(),
            ));
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for the password: pass it on stdin with --password-stdin".into(),
        ));
    }
    let first = rpassword::prompt_password("New password: ")
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    let second = rpassword::prompt_password("Repeat it: ")
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    if first != second {
        return Err(CliError::Usage("the two passwords differ".into()));
    }
    Ok(first)
}
