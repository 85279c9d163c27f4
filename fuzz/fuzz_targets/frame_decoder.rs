//! The WebSocket frame decoder (`decode_server_message`): never panics; what decodes re-encodes.
#![no_main]

use jellyfish_notifier::codec::{DecodedMessage, decode_server_message, encode_batch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_server_message(data) {
        Ok(DecodedMessage::Notification(n)) => {
            let bytes = n.encode().expect("a decoded notification encodes");
            assert_eq!(decode_server_message(&bytes).unwrap(), DecodedMessage::Notification(n));
        }
        Ok(DecodedMessage::Batch(items)) => {
            let bytes = encode_batch(&items).expect("a decoded batch encodes");
            assert_eq!(decode_server_message(&bytes).unwrap(), DecodedMessage::Batch(items));
        }
        Ok(DecodedMessage::Metrics(report)) => {
            assert_eq!(decode_server_message(&report.encode()).unwrap(), DecodedMessage::Metrics(report));
        }
        Ok(DecodedMessage::Control(control)) => {
            assert_eq!(decode_server_message(&control.encode()).unwrap(), DecodedMessage::Control(control));
        }
        Ok(_) | Err(_) => {}
    }
});
