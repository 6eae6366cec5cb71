//! How a request that got no complete answer ended, in the outcome classes the open-loop
//! engine reports: the connection could not be made, broke, timed out, or another I/O error.

use std::error::Error;

use goose::goose::GooseResponse;
use live::collect::Outcome;

/// The outcome of a failed request from what its client said: `timeout` and `connect` are the
/// HTTP client's own verdicts, then the chain of sources is searched for an I/O error.
pub(crate) fn classify(timeout: bool, connect: bool, err: &(dyn Error + 'static)) -> Outcome {
    use std::io::ErrorKind::*;
    if timeout {
        return Outcome::Timeout;
    }
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ConnectionRefused | AddrNotAvailable | NotConnected => Outcome::Connect,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Outcome::Reset,
                TimedOut => Outcome::Timeout,
                _ if connect => Outcome::Connect,
                _ => Outcome::Io,
            };
        }
        cur = e.source();
    }
    if connect {
        Outcome::Connect
    } else {
        Outcome::Io
    }
}

/// The outcome of a request a Goose transaction made: its status when it was answered, else
/// what its error says.
pub(crate) fn of_response(goose: &GooseResponse) -> Outcome {
    match &goose.response {
        Ok(_) => Outcome::Status(goose.request.status_code),
        Err(e) => classify(e.is_timeout(), e.is_connect(), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified_through_their_sources() {
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "request failed")
            }
        }
        impl Error for Wrap {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let reset = Wrap(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(classify(false, false, &reset), Outcome::Reset);
        let refused = Wrap(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(classify(false, true, &refused), Outcome::Connect);
        let other = Wrap(std::io::ErrorKind::InvalidData.into());
        assert_eq!(classify(false, false, &other), Outcome::Io);
        assert_eq!(classify(true, false, &other), Outcome::Timeout);
    }
}
