//! Why a file could not be finished, sorted by what is to be done about it: a local failure is
//! never taken for a changed file, nor a server's trouble for bad data.

use crate::ch::{ChError, Retryable};
use std::fmt;

#[derive(Debug)]
pub enum SinkError {
    /// The server or the network: the file is retried, now and then by the next run.
    Server(ChError),
    /// The content: the file is recorded as failed and not retried until it changes.
    Data(String),
    /// The file changed under the run: what was sent is not what was checked. Its rows are
    /// deleted and the next run reads it again.
    Changed(String),
    /// Something local that says nothing about the file (its spill could not be read back, a
    /// thread could not start): what landed stays, and the next run resumes.
    Local(String),
    /// The file's only pass found bad records (the errors to report): what landed of it is
    /// deleted, and it fails for its content.
    Bad(Vec<String>),
}

impl SinkError {
    /// The server accepted what it was sent but does not hold it: worth another try.
    pub fn short(message: String) -> SinkError {
        SinkError::Server(ChError::Server { code: 0, message })
    }
}

impl From<ChError> for SinkError {
    fn from(e: ChError) -> SinkError {
        if e.is_transient() || e.is_unreachable() {
            SinkError::Server(e)
        } else {
            SinkError::Data(e.to_string())
        }
    }
}

impl Retryable for SinkError {
    /// Only the server's trouble may pass; a retry of anything else would fail the same way, and
    /// a run that may have lost its cluster lock writes nothing more.
    fn is_transient(&self) -> bool {
        matches!(self, SinkError::Server(e) if !matches!(e, ChError::Fenced(_)))
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Server(e) => write!(f, "{e}"),
            SinkError::Data(m) | SinkError::Changed(m) | SinkError::Local(m) => f.write_str(m),
            SinkError::Bad(errors) => f.write_str(&errors.join("\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_trouble_is_retried() {
        let busy = ChError::Server {
            code: 252,
            message: "Too many parts".into(),
        };
        assert!(SinkError::from(busy).is_transient());
        let bad = ChError::Server {
            code: 27,
            message: "Cannot parse input".into(),
        };
        assert!(matches!(SinkError::from(bad), SinkError::Data(_)));
        assert!(SinkError::short("read back 1 of 2 rows".into()).is_transient());
        assert!(!SinkError::Local("cannot read the spill file".into()).is_transient());
        assert!(!SinkError::Changed("hash differs".into()).is_transient());
    }
}
