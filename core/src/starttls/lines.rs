//! Bounded CRLF line reading for the text protocols.

use alloc::vec::Vec;

use super::StarttlsFailure;

/// The longest reply line accepted (RFC 5321 allows 512; servers add long capability lists).
pub(crate) const MAX_LINE: usize = 4096;
/// The most bytes a whole preamble may read.
pub(crate) const MAX_TOTAL: usize = 64 * 1024;

/// Takes lines off the front of an input buffer, counting what the preamble has read.
#[derive(Debug, Default)]
pub(crate) struct LineReader {
    total: usize,
}

impl LineReader {
    /// The next complete line, without its line ending (CRLF or a bare LF), or `None` when more
    /// input is needed.
    pub(crate) fn next_line(
        &mut self,
        input: &mut Vec<u8>,
    ) -> Result<Option<Vec<u8>>, StarttlsFailure> {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            if input.len() > MAX_LINE {
                return Err(StarttlsFailure::LineTooLong { limit: MAX_LINE });
            }
            return Ok(None);
        };
        if end > MAX_LINE {
            return Err(StarttlsFailure::LineTooLong { limit: MAX_LINE });
        }
        self.total = self.total.saturating_add(end.saturating_add(1));
        if self.total > MAX_TOTAL {
            return Err(StarttlsFailure::TooLong { limit: MAX_TOTAL });
        }
        let mut line: Vec<u8> = input.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }
}

/// Whether `line` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn lines_end_at_crlf_or_lf_and_wait_for_more() {
        let mut reader = LineReader::default();
        let mut input = b"one\r\ntwo\nthr".to_vec();
        assert_eq!(reader.next_line(&mut input), Ok(Some(b"one".to_vec())));
        assert_eq!(reader.next_line(&mut input), Ok(Some(b"two".to_vec())));
        assert_eq!(reader.next_line(&mut input), Ok(None));
        assert_eq!(input, b"thr");
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut reader = LineReader::default();
        let mut input = vec![b'a'; MAX_LINE + 1];
        assert_eq!(
            reader.next_line(&mut input),
            Err(StarttlsFailure::LineTooLong { limit: MAX_LINE })
        );
    }

    #[test]
    fn endless_lines_are_refused_past_the_total() {
        let mut reader = LineReader::default();
        let mut refused = false;
        for _ in 0..(MAX_TOTAL / 100 + 2) {
            let mut input = [[b'x'; 99].as_slice(), b"\n"].concat();
            if reader.next_line(&mut input).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }
}
