//! The webhook extractor's body handling under random input (the CI-sized variant of the
//! `webhook_body` fuzz target): any body, any of the content types, signed or not, is answered
//! without a panic and never with a 5xx.

use actix_web::test as actix_test;
use actix_web::{App, HttpResponse, web};
use jellyfish_notifier::webhook::sign_webhook;
use jellyfish_notifier::{Webhook, WebhookConfig};
use proptest::prelude::*;

async fn accept(notifications: Webhook) -> HttpResponse {
    HttpResponse::Ok().body(notifications.len().to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_body_gets_an_answer_and_never_a_5xx(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        content_type in prop::sample::select(vec!["application/x-protobuf", "application/json", "application/protobuf; x=y", "text/plain", ""]),
        signed in any::<bool>(),
        forged in any::<bool>(),
    ) {
        let status = actix_web::rt::System::new().block_on(async {
            let config = WebhookConfig::default().limit(256);
            let config = if signed { config.secret("k") } else { config };
            let app = actix_test::init_service(App::new().app_data(config).route("/", web::post().to(accept))).await;
            let mut request = actix_test::TestRequest::post().uri("/").insert_header(("content-type", content_type));
            if signed {
                let key = if forged { "wrong" } else { "k" };
                request = request.insert_header(("x-fishjam-signature-256", sign_webhook(key, &body)));
            }
            actix_test::call_service(&app, request.set_payload(body.clone()).to_request()).await.status()
        });
        prop_assert!(!status.is_server_error(), "{status}");
        let accepted = content_type.starts_with("application/");
        if !accepted {
            prop_assert_eq!(status.as_u16(), 415, "an unsupported type is refused before the body is read");
        } else if body.len() > 256 {
            prop_assert_eq!(status.as_u16(), 413);
        }
    }
}
