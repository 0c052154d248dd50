//! Record framing and handshake message reassembly, shared by both observers.

use alloc::vec::Vec;

use super::{
    ObserveError, ObserveLimits, ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE,
    HANDSHAKE_HEADER, HEARTBEAT, MAX_RECORD_BODY, RECORD_HEADER,
};

/// One item of the record layer, as handed to an observer.
pub(super) enum Item<'a> {
    Handshake { kind: u8, body: &'a [u8] },
    ChangeCipherSpec,
    Alert { level: u8, description: u8 },
    ApplicationData,
}

pub(super) enum Flow {
    Continue,
    Stop,
}

/// Record framing and handshake message reassembly for one direction.
#[derive(Debug)]
pub(super) struct Framer {
    pub(super) limits: ObserveLimits,
    header: [u8; RECORD_HEADER],
    header_len: usize,
    /// Body bytes of the current record still to come (meaningful once the header is whole).
    remaining: usize,
    content_type: u8,
    records: usize,
    message: Vec<u8>,
    alert: [u8; 2],
    alert_len: usize,
}

impl Framer {
    pub(super) fn new(limits: ObserveLimits) -> Self {
        Self {
            limits,
            header: [0; RECORD_HEADER],
            header_len: 0,
            remaining: 0,
            content_type: 0,
            records: 0,
            message: Vec::new(),
            alert: [0; 2],
            alert_len: 0,
        }
    }

    /// Frees everything held once the observer is finished (complete or failed): it reads no
    /// more, so a partial record header counts as buffered no longer either.
    pub(super) fn release(&mut self) {
        self.message = Vec::new();
        self.header_len = 0;
        self.remaining = 0;
    }

    pub(super) fn feed(
        &mut self,
        mut data: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        while !data.is_empty() {
            if self.header_len < RECORD_HEADER {
                let Some((&byte, rest)) = data.split_first() else {
                    break;
                };
                data = rest;
                if let Some(slot) = self.header.get_mut(self.header_len) {
                    *slot = byte;
                }
                self.header_len = self.header_len.saturating_add(1);
                if self.header_len == RECORD_HEADER {
                    if let Flow::Stop = self.start_record(handler)? {
                        return Ok(Flow::Stop);
                    }
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            let (chunk, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
            data = rest;
            self.remaining = self.remaining.saturating_sub(chunk.len());
            let flow = match self.content_type {
                HANDSHAKE => self.handshake_bytes(chunk, handler)?,
                ALERT => self.alert_bytes(chunk, handler)?,
                _ => Flow::Continue,
            };
            if self.remaining == 0 {
                self.header_len = 0;
            }
            if let Flow::Stop = flow {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    fn start_record(
        &mut self,
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        let [content_type, major, minor, high, low] = self.header;
        let is_tls = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type) && major == 3;
        if !is_tls {
            return Err(if self.records == 0 {
                ObserveError::NotTls
            } else {
                ObserveError::BadRecordHeader {
                    content_type,
                    version: u16::from_be_bytes([major, minor]),
                }
            });
        }
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length > MAX_RECORD_BODY {
            return Err(ObserveError::RecordTooLarge { length });
        }
        if length == 0 && content_type != APPLICATION_DATA {
            return Err(ObserveError::EmptyRecord);
        }
        if content_type != HANDSHAKE && !self.message.is_empty() {
            return Err(ObserveError::Interleaved);
        }
        self.records = self.records.saturating_add(1);
        self.content_type = content_type;
        self.remaining = length;
        self.alert_len = 0;
        if length == 0 {
            self.header_len = 0;
        }
        match content_type {
            CHANGE_CIPHER_SPEC => handler(Item::ChangeCipherSpec),
            APPLICATION_DATA => handler(Item::ApplicationData),
            _ => Ok(Flow::Continue),
        }
    }

    fn alert_bytes(
        &mut self,
        chunk: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        for &byte in chunk {
            if let Some(slot) = self.alert.get_mut(self.alert_len) {
                *slot = byte;
                self.alert_len = self.alert_len.saturating_add(1);
                if self.alert_len == self.alert.len() {
                    let [level, description] = self.alert;
                    return handler(Item::Alert { level, description });
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Appends handshake record bytes, never more than the current message needs, and hands
    /// over each message as soon as it is whole.
    fn handshake_bytes(
        &mut self,
        mut chunk: &[u8],
        handler: &mut dyn FnMut(Item<'_>) -> Result<Flow, ObserveError>,
    ) -> Result<Flow, ObserveError> {
        while !chunk.is_empty() {
            let want = match self.message_length() {
                None => HANDSHAKE_HEADER.saturating_sub(self.message.len()),
                Some(total) => total.saturating_sub(self.message.len()),
            };
            let (head, rest) = chunk
                .split_at_checked(want.min(chunk.len()))
                .unwrap_or((chunk, &[]));
            chunk = rest;
            // Room for exactly what is wanted (the header, then the rest of a message whose
            // length has passed the limit), never the doubling `extend` would do: the capacity,
            // which `buffered` reports, stays within the limit.
            self.message.reserve_exact(want);
            self.message.extend_from_slice(head);
            let Some(total) = self.message_length() else {
                continue;
            };
            if total > self.limits.max_buffered {
                return Err(ObserveError::MessageTooLarge {
                    length: total,
                    limit: self.limits.max_buffered,
                });
            }
            if self.message.len() >= total {
                let flow = {
                    let kind = self.message.first().copied().unwrap_or_default();
                    let body = self.message.get(HANDSHAKE_HEADER..).unwrap_or_default();
                    handler(Item::Handshake { kind, body })?
                };
                self.message.clear();
                if let Flow::Stop = flow {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// The whole length (header included) of the message being reassembled, once its header
    /// is in.
    fn message_length(&self) -> Option<usize> {
        match self.message.as_slice() {
            [_, a, b, c, ..] => {
                let body = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
                Some(body.saturating_add(HANDSHAKE_HEADER))
            }
            _ => None,
        }
    }

    pub(super) fn buffered(&self) -> usize {
        self.message
            .capacity()
            .saturating_add(self.header_len.min(RECORD_HEADER))
    }
}
