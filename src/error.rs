//! Error types of the library. The binary wraps them with `anyhow` at its edge.

use thiserror::Error;

/// A problem with one input. The run goes on with the other inputs, and the
/// report names the input and the reason.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SourceError {
    /// The argument names no file, folder or glob match.
    #[error("{input}: no such file, folder or glob match")]
    NotFound {
        /// The argument as given.
        input: String,
    },
    /// The glob pattern itself is malformed.
    #[error("{input}: bad glob pattern: {message}")]
    BadGlob {
        /// The argument as given.
        input: String,
        /// What the glob parser said.
        message: String,
    },
    /// A folder could not be walked completely.
    #[error("{input}: cannot walk folder: {message}")]
    Walk {
        /// The folder argument.
        input: String,
        /// The underlying error.
        message: String,
    },
    /// The input could not be opened.
    #[error("{input}: cannot open: {message}")]
    Open {
        /// The input's name.
        input: String,
        /// The underlying error.
        message: String,
    },
    /// Reading or decompressing failed part-way; lines before `line` were analyzed.
    #[error("{input}:{line}: read failed after this line ({message}); the lines before it were analyzed")]
    Read {
        /// The input's name.
        input: String,
        /// The last line read successfully.
        line: u64,
        /// The underlying error, e.g. a truncated gzip member.
        message: String,
    },
    /// The input holds binary data, not text.
    #[error("{input}: binary data (NUL bytes near offset {offset}), not a text log; skipped")]
    Binary {
        /// The input's name.
        input: String,
        /// Where the first NUL byte was seen, in decompressed bytes.
        offset: u64,
    },
}

/// An invalid command-line setting, such as a malformed `--log-format`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The custom Python logging format cannot be used.
    #[error("--log-format {format:?}: {reason}")]
    LogFormat {
        /// The format string as given.
        format: String,
        /// Why it was rejected.
        reason: String,
    },
}
