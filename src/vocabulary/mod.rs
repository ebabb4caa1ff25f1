//! The words edensync stores and compares: task modes, policies and
//! strategies, run statuses and triggers, repository statuses and Eden's log
//! results. Each is an enum converted to and from its stored text here and
//! nowhere else; the rest of the code compares enums.
//!
//! A leaf module: it uses nothing from the rest of the crate.

mod log;
mod review;
mod run;
mod task;

pub use log::LogResult;
pub use review::{ConflictWinner, Resolution, ReviewAction, ReviewKind};
pub use run::{Direction, RepositoryStatus, RunStatus, Trigger};
pub use task::{Method, Policy, Strategy, TaskMode};

/// A text that is not one of a vocabulary's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a {what} ({expected})")]
pub struct UnknownWord {
    /// What was expected, e.g. "policy".
    pub what: &'static str,
    pub text: String,
    /// The words, e.g. "THIS, OTHER, NEWER or MASTER".
    pub expected: String,
}

impl UnknownWord {
    fn new(what: &'static str, text: &str, words: &[&str]) -> UnknownWord {
        let expected = match words.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        UnknownWord {
            what,
            text: text.to_string(),
            expected,
        }
    }
}

/// An enum of words: `as_str` (the stored text), `parse` (ignoring case and
/// surrounding blanks, as administrators type them), `ALL`, `Display`,
/// `FromStr` and `TryFrom<String>` (which diesel's `deserialize_as` uses).
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every word, in the order administrators see them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            pub fn parse(text: &str) -> Result<$name, $crate::vocabulary::UnknownWord> {
                let trimmed = text.trim();
                $(
                    if trimmed.eq_ignore_ascii_case($text) {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::vocabulary::UnknownWord::new($what, text, &[$($text),+]))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownWord;
            fn from_str(text: &str) -> Result<$name, $crate::vocabulary::UnknownWord> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::vocabulary::UnknownWord;
            fn try_from(text: String) -> Result<$name, $crate::vocabulary::UnknownWord> {
                $name::parse(&text)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
use words;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        fn round_trip<T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr>(
            all: &[T],
            as_str: fn(T) -> &'static str,
        ) where
            T::Err: std::fmt::Debug,
        {
            for word in all {
                assert_eq!(as_str(*word).parse::<T>().unwrap(), *word);
            }
        }
        round_trip(TaskMode::ALL, TaskMode::as_str);
        round_trip(Policy::ALL, Policy::as_str);
        round_trip(Method::ALL, Method::as_str);
        round_trip(RunStatus::ALL, RunStatus::as_str);
        round_trip(Trigger::ALL, Trigger::as_str);
        round_trip(RepositoryStatus::ALL, RepositoryStatus::as_str);
        round_trip(LogResult::ALL, LogResult::as_str);
    }

    #[test]
    fn parse_ignores_case_and_blanks_and_names_the_words() {
        assert_eq!(Policy::parse(" newer ").unwrap(), Policy::Newer);
        assert_eq!(RunStatus::parse("Timed Out").unwrap(), RunStatus::TimedOut);
        assert_eq!(
            Policy::parse("LATEST").unwrap_err().to_string(),
            "'LATEST' is not a policy (THIS, OTHER, NEWER or MASTER)"
        );
        assert_eq!(
            TaskMode::parse("sideways").unwrap_err().to_string(),
            "'sideways' is not a mode (pull, push, both or none)"
        );
    }

    #[test]
    fn an_unknown_word_converts_into_a_boxed_error() {
        // What diesel's `deserialize_as` needs of the conversion's error.
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            RunStatus::try_from("done".to_string()).unwrap_err().into();
        assert!(boxed.to_string().contains("'done' is not a run status"));
    }

    #[test]
    fn strategies_read_any_subset_and_write_the_canonical_order() {
        let strategy = Strategy::parse("merge, CREATE").unwrap();
        assert_eq!(strategy.to_text(), "create,merge");
        assert_eq!(
            Strategy::try_from(Strategy::ALL.to_text()).unwrap(),
            Strategy::ALL
        );
        assert!(Strategy::parse("create,upsert").is_err());
    }
}
