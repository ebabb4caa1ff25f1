//! Pull answers kept for resuming. A page for an edensync peer is spooled
//! before it is sent; it stays here, under a random token the answer's
//! `X-Edensync-Answer` header names, until the peer asks for a new page
//! (it does so only once it has the last one whole: the end of sending
//! says nothing, the bytes may still sit in buffers along a slow link) or
//! a few minutes pass. A peer whose link dropped in the middle asks for the rest
//! (`answer=TOKEN&offset=BYTES`) instead of the whole page again: on a 2G
//! link that drops every minute, a cut then costs the bytes in flight, not
//! the page.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer is kept for its peer to come back.
const KEPT_FOR: Duration = Duration::from_secs(600);
/// Answers kept at most (the oldest goes first): temporary files on disk.
const MOST_KEPT: usize = 64;

struct Kept {
    token: String,
    account_id: i64,
    file: File,
    length: u64,
    until: Instant,
}

#[derive(Default)]
pub struct Answers(Mutex<VecDeque<Kept>>);

impl Answers {
    /// Keep `file` (an answer of `length` bytes for `account_id`); its
    /// token. The account's earlier answers are done with: it asks for a
    /// new page only once it holds the last one.
    pub fn keep(&self, account_id: i64, file: &File, length: u64) -> std::io::Result<String> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let kept = Kept {
            token: token.clone(),
            account_id,
            file: file.try_clone()?,
            length,
            until: Instant::now() + KEPT_FOR,
        };
        let mut answers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        answers.retain(|k| k.until > now && k.account_id != account_id);
        while answers.len() >= MOST_KEPT {
            answers.pop_front();
        }
        answers.push_back(kept);
        Ok(token)
    }

    /// The rest of a kept answer from `offset`, copied into a file of its
    /// own (read by position: the first delivery may still be reading the
    /// same file); None when it is gone, another account's, or shorter.
    pub fn rest(
        &self,
        account_id: i64,
        token: &str,
        offset: u64,
    ) -> std::io::Result<Option<(File, u64)>> {
        let source = {
            let answers = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let Some(kept) = answers.iter().find(|k| {
                k.token == token && k.account_id == account_id && k.until > Instant::now()
            }) else {
                return Ok(None);
            };
            if offset > kept.length {
                return Ok(None);
            }
            (kept.file.try_clone()?, kept.length)
        };
        let (file, length) = source;
        let mut rest = tempfile::tempfile()?;
        let mut position = offset;
        let mut buffer = vec![0u8; 64 * 1024];
        while position < length {
            let n = file.read_at(&mut buffer, position)?;
            if n == 0 {
                break;
            }
            rest.write_all(&buffer[..n])?;
            position += n as u64;
        }
        rest.flush()?;
        rest.rewind()?;
        Ok(Some((rest, length - offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_an_answer_is_there_for_its_account_only() {
        let answers = Answers::default();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let token = answers.keep(7, &file, 10).unwrap();
        let (mut rest, length) = answers.rest(7, &token, 4).unwrap().unwrap();
        assert_eq!(length, 6);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut rest, &mut text).unwrap();
        assert_eq!(text, "456789");
        assert!(
            answers.rest(8, &token, 4).unwrap().is_none(),
            "another account"
        );
        assert!(
            answers.rest(7, &token, 11).unwrap().is_none(),
            "past its end"
        );
        let next = answers.keep(7, &file, 10).unwrap();
        assert!(
            answers.rest(7, &token, 4).unwrap().is_none(),
            "a new page: done with the last"
        );
        assert!(answers.rest(7, &next, 4).unwrap().is_some());
    }
}
