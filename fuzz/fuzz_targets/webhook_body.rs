//! The webhook extractor's body handling: the first byte picks the content type and whether a
//! signature is required, the rest is the body; the extractor answers without panicking, and never
//! with a 5xx.
#![no_main]

use actix_web::{App, HttpResponse, test, web};
use jellyfish_notifier::{Webhook, WebhookConfig};
use jellyfish_notifier::webhook::sign_webhook;
use libfuzzer_sys::fuzz_target;

async fn accept(notifications: Webhook) -> HttpResponse {
    HttpResponse::Ok().body(notifications.len().to_string())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let content_type = ["application/x-protobuf", "application/json", "application/protobuf; x=y", "text/plain"]
        [usize::from(selector & 3)];
    let signed = selector & 4 != 0;
    let forged = selector & 8 != 0;
    actix_web::rt::System::new().block_on(async {
        let config = WebhookConfig::default().limit(64 * 1024);
        let config = if signed { config.secret("fuzz") } else { config };
        let app = test::init_service(App::new().app_data(config).route("/", web::post().to(accept))).await;
        let mut request = test::TestRequest::post().uri("/").insert_header(("content-type", content_type));
        if signed {
            let key: &[u8] = if forged { b"wrong" } else { b"fuzz" };
            request = request.insert_header(("x-fishjam-signature-256", sign_webhook(key, body)));
        }
        let response = test::call_service(&app, request.set_payload(body.to_vec()).to_request()).await;
        assert!(!response.status().is_server_error(), "{}", response.status());
    });
});
