//! The one error type users see: a sentence that says what went wrong and where, and
//! the kind of problem it is, so that the page can say it in its own language.

use std::fmt;

use serde::Serialize;

/// What kind of problem an error is: the page words each in its language and keeps
/// the English sentence as the detail (names of files and tensors, shapes, values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// Files that are not a checkpoint, or a damaged one.
    CheckpointUnreadable,
    /// Checkpoint files that do not fit each other or the settings.
    CheckpointMismatch,
    /// Training data (MNIST's files, pictures, an archive) that cannot be read.
    DataUnreadable,
    /// Settings that make no run ganvas trains.
    Settings,
    /// The GPU failed, ran out of memory or was lost.
    Device,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, for the page's test that each has its sentences.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::CheckpointUnreadable,
        ErrorKind::CheckpointMismatch,
        ErrorKind::DataUnreadable,
        ErrorKind::Settings,
        ErrorKind::Device,
        ErrorKind::Other,
    ];

    /// The kind's name as JavaScript sees it ("checkpointUnreadable").
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::CheckpointUnreadable => "checkpointUnreadable",
            ErrorKind::CheckpointMismatch => "checkpointMismatch",
            ErrorKind::DataUnreadable => "dataUnreadable",
            ErrorKind::Settings => "settings",
            ErrorKind::Device => "device",
            ErrorKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    /// An error of kind `Other`; `of` or `with_kind` give it one.
    pub fn new(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::Other, message)
    }

    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The same sentence as a problem of `kind` (where a caller knows what it was reading).
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        Error { kind, ..self }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The page words every kind (www/errors.js), so none reaches a Korean page as English alone.
    #[test]
    fn the_page_words_every_kind() {
        let page = include_str!("../www/errors.js");
        for kind in ErrorKind::ALL {
            assert!(
                page.contains(&format!("\n  {}: ", kind.name())),
                "www/errors.js lacks {kind:?}"
            );
        }
    }

    #[test]
    fn kind_names_are_what_serde_writes() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
    }
}
