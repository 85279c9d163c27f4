//! `receive_json` on arbitrary JSON (and on the v0.3 envelope around arbitrary text): never panics.
#![no_main]

use jellyfish_notifier::receive_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = receive_json(&value);
    }
    let text = String::from_utf8_lossy(data);
    let _ = receive_json(&serde_json::json!({ "notification": text }));
});
