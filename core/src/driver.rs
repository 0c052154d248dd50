//! A blocking driver: runs a [`PullSession`] over any `embedded_io` byte stream.
//!
//! Deadlines belong to the stream: a caller that needs one gives a stream whose reads and
//! writes fail when it passes (native does this with socket timeouts).

use core::fmt;

use embedded_io::{Read, Write};

use crate::error::PullError;
use crate::session::{PullOutcome, PullSession, Status};

/// Bytes read from the stream per call.
const READ_CHUNK: usize = 16 * 1024;

/// Why a blocking pull failed: the stream, or the session.
#[derive(Debug)]
pub enum DriveError<E> {
    /// Reading or writing the stream failed.
    Io(E),
    /// The session failed (protocol, validation, limits).
    Pull(PullError),
}

impl<E: fmt::Debug> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "I/O error: {error:?}"),
            Self::Pull(error) => write!(f, "{error}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for DriveError<E> {}

/// Runs `session` to completion over `stream`: sends what it has to send, reads what it needs,
/// and returns the outcome. On a session error, the queued alert is sent on a best-effort basis.
pub fn pull_blocking<S: Read + Write>(
    session: &mut PullSession,
    stream: &mut S,
) -> Result<PullOutcome, DriveError<S::Error>> {
    let mut buffer = [0u8; READ_CHUNK];
    loop {
        let status = session.advance();
        let sent = send_pending(session, stream);
        match status {
            Err(error) => return Err(DriveError::Pull(error)),
            Ok(Status::Complete(outcome)) => {
                // The client's last flight and close_notify are courtesy; the outcome stands.
                let _ = sent;
                return Ok(outcome);
            }
            Ok(Status::NeedsInput) => sent.map_err(DriveError::Io)?,
        }
        let room = session.receive_capacity().clamp(1, READ_CHUNK);
        let chunk = buffer.get_mut(..room).unwrap_or_default();
        let read = stream.read(chunk).map_err(DriveError::Io)?;
        match chunk.get(..read) {
            Some([]) | None => session.feed_eof(),
            Some(bytes) => session.feed(bytes).map_err(DriveError::Pull)?,
        }
    }
}

fn send_pending<S: Write>(session: &mut PullSession, stream: &mut S) -> Result<(), S::Error> {
    let output = session.take_output();
    if output.is_empty() {
        return Ok(());
    }
    stream.write_all(&output)?;
    stream.flush()
}
