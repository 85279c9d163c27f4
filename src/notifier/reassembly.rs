//! Frames to messages, with no I/O: a binary frame is a message; continuation frames are joined
//! up to the size cap; text frames and oversized messages are skipped (and said so once each);
//! control frames are passed back to the actor.

use actix_http::ws::{CloseReason, Frame, Item};
use bytes::{Bytes, BytesMut};

/// Why a message was skipped. Each is counted as a malformed frame by the notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// A text frame (or a fragmented text message): the server only sends binary protobuf.
    Text {
        /// Bytes in the first frame.
        len: usize,
    },
    /// A fragmented message grew past the cap; its remaining fragments are dropped.
    TooLarge {
        /// The cap.
        limit: usize,
    },
}

/// What one frame amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A whole binary message.
    Message(Bytes),
    /// A message was skipped.
    Skipped(Skip),
    /// Part of a fragmented message; nothing to do yet.
    Pending,
    /// A ping to answer with this payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The server's close frame.
    Close(Option<CloseReason>),
}

#[derive(Debug)]
enum State {
    Idle,
    /// Joining a binary message.
    Joining(BytesMut),
    /// Dropping the rest of a text or oversized message.
    Dropping,
}

/// One connection's reassembly.
#[derive(Debug)]
pub(crate) struct Reassembly {
    state: State,
    limit: usize,
}

impl Reassembly {
    /// Messages larger than `limit` bytes are skipped.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: State::Idle,
            limit,
        }
    }

    /// Feeds one frame.
    ///
    /// A data frame inside a fragmented message cannot arrive: actix's codec answers that with a
    /// protocol error (`ContinuationStarted`), which ends the connection before it gets here.
    pub(crate) fn push(&mut self, frame: Frame) -> Outcome {
        match frame {
            Frame::Binary(bytes) => Outcome::Message(bytes),
            Frame::Text(bytes) => Outcome::Skipped(Skip::Text { len: bytes.len() }),
            Frame::Continuation(Item::FirstBinary(chunk)) => {
                self.state = State::Joining(BytesMut::from(&chunk[..]));
                self.check_size()
            }
            Frame::Continuation(Item::FirstText(chunk)) => {
                self.state = State::Dropping;
                Outcome::Skipped(Skip::Text { len: chunk.len() })
            }
            Frame::Continuation(Item::Continue(chunk)) => {
                if let State::Joining(partial) = &mut self.state {
                    partial.extend_from_slice(&chunk);
                }
                self.check_size()
            }
            Frame::Continuation(Item::Last(chunk)) => {
                match std::mem::replace(&mut self.state, State::Idle) {
                    State::Joining(mut partial) => {
                        partial.extend_from_slice(&chunk);
                        if partial.len() > self.limit {
                            Outcome::Skipped(Skip::TooLarge { limit: self.limit })
                        } else {
                            Outcome::Message(partial.freeze())
                        }
                    }
                    State::Idle | State::Dropping => Outcome::Pending,
                }
            }
            Frame::Ping(payload) => Outcome::Ping(payload),
            Frame::Pong(_) => Outcome::Pong,
            Frame::Close(reason) => Outcome::Close(reason),
        }
    }

    fn check_size(&mut self) -> Outcome {
        match &self.state {
            State::Joining(partial) if partial.len() > self.limit => {
                self.state = State::Dropping;
                Outcome::Skipped(Skip::TooLarge { limit: self.limit })
            }
            _ => Outcome::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    /// Each row: frames fed in order, and what each one amounts to (cap: 8 bytes).
    #[test]
    fn frames_become_messages_as_the_websocket_protocol_says() {
        use Frame::{Binary, Continuation, Ping, Pong, Text};
        use Item::{Continue, FirstBinary, FirstText, Last};
        type Row = (&'static str, Vec<(Frame, Outcome)>);
        let table: Vec<Row> = vec![
            (
                "a binary frame is a message",
                vec![(Binary(bin("abc")), Outcome::Message(bin("abc")))],
            ),
            (
                "fragments are joined in order",
                vec![
                    (Continuation(FirstBinary(bin("ab"))), Outcome::Pending),
                    (Continuation(Continue(bin("cd"))), Outcome::Pending),
                    (
                        Continuation(Last(bin("ef"))),
                        Outcome::Message(bin("abcdef")),
                    ),
                    (Binary(bin("next")), Outcome::Message(bin("next"))),
                ],
            ),
            (
                "a message of exactly the cap is kept",
                vec![
                    (Continuation(FirstBinary(bin("1234"))), Outcome::Pending),
                    (
                        Continuation(Last(bin("5678"))),
                        Outcome::Message(bin("12345678")),
                    ),
                ],
            ),
            (
                "a message growing past the cap is skipped once, its rest dropped",
                vec![
                    (Continuation(FirstBinary(bin("12345"))), Outcome::Pending),
                    (
                        Continuation(Continue(bin("6789"))),
                        Outcome::Skipped(Skip::TooLarge { limit: 8 }),
                    ),
                    (Continuation(Continue(bin("more"))), Outcome::Pending),
                    (Continuation(Last(bin("end"))), Outcome::Pending),
                    (Binary(bin("ok")), Outcome::Message(bin("ok"))),
                ],
            ),
            (
                "a message past the cap only in its last fragment is skipped",
                vec![
                    (Continuation(FirstBinary(bin("1234"))), Outcome::Pending),
                    (
                        Continuation(Last(bin("56789"))),
                        Outcome::Skipped(Skip::TooLarge { limit: 8 }),
                    ),
                ],
            ),
            (
                "a first fragment already past the cap is skipped at once",
                vec![
                    (
                        Continuation(FirstBinary(bin("123456789"))),
                        Outcome::Skipped(Skip::TooLarge { limit: 8 }),
                    ),
                    (Continuation(Last(bin("x"))), Outcome::Pending),
                ],
            ),
            (
                "text frames and fragmented text are skipped once each",
                vec![
                    (Text(bin("hello")), Outcome::Skipped(Skip::Text { len: 5 })),
                    (
                        Continuation(FirstText(bin("he"))),
                        Outcome::Skipped(Skip::Text { len: 2 }),
                    ),
                    (Continuation(Continue(bin("ll"))), Outcome::Pending),
                    (Continuation(Last(bin("o"))), Outcome::Pending),
                    (Binary(bin("bin")), Outcome::Message(bin("bin"))),
                ],
            ),
            (
                "control frames pass through, even between fragments",
                vec![
                    (Continuation(FirstBinary(bin("ab"))), Outcome::Pending),
                    (Ping(bin("p")), Outcome::Ping(bin("p"))),
                    (Pong(bin("")), Outcome::Pong),
                    (Continuation(Last(bin("c"))), Outcome::Message(bin("abc"))),
                    (Frame::Close(None), Outcome::Close(None)),
                ],
            ),
            (
                "a stray last fragment is nothing",
                vec![(Continuation(Last(bin("x"))), Outcome::Pending)],
            ),
        ];
        for (name, steps) in table {
            let mut reassembly = Reassembly::new(8);
            for (index, (frame, want)) in steps.into_iter().enumerate() {
                assert_eq!(reassembly.push(frame), want, "{name}: frame {index}");
            }
        }
    }
}
