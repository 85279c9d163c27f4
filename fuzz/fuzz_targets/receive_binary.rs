//! `receive_binary` on arbitrary bytes: never panics; whatever decodes re-encodes to the same values.
#![no_main]

use jellyfish_notifier::receive_binary;
use jellyfish_notifier::codec::encode_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(notifications) = receive_binary(data) {
        let again = encode_batch(&notifications).expect("decoded notifications encode");
        assert_eq!(receive_binary(&again).expect("re-encoded bytes decode"), notifications);
    }
});
