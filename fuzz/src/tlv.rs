//! Splitting bytes into top-level DER elements, to turn one fuzzer input into a chain.

/// Splits `data` into consecutive DER TLVs. A header that does not parse, or a length that
/// runs past the end, ends the split: the rest becomes the last piece (so every byte lands in
/// exactly one piece, and the pieces concatenate back to `data`).
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        match element_len(rest) {
            Some(len) if len <= rest.len() => {
                let (piece, tail) = rest.split_at(len);
                pieces.push(piece);
                rest = tail;
            }
            _ => {
                pieces.push(rest);
                break;
            }
        }
    }
    pieces
}

/// The total length (header included) of the DER element at the start of `data`.
fn element_len(data: &[u8]) -> Option<usize> {
    let first = *data.get(1)?;
    let (header, len) = if first < 0x80 {
        (2usize, usize::from(first))
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = data.get(2..2 + count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (2 + count, len)
    };
    header.checked_add(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_elements_and_keeps_every_byte() {
        let data = [0x30, 0x01, 0xaa, 0x30, 0x81, 0x01, 0xbb, 0x02, 0x05, 0x01];
        let pieces = split(&data);
        assert_eq!(
            pieces,
            [
                &[0x30, 0x01, 0xaa][..],
                &[0x30, 0x81, 0x01, 0xbb],
                &[0x02, 0x05, 0x01]
            ]
        );
        assert_eq!(pieces.concat(), data);
        assert!(split(&[]).is_empty());
    }
}
