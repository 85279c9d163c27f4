//! The `Webhook` extractor: each content type, batches, every error status, the size limit with and
//! without Content-Length, signatures, a custom error handler, and the `web::Json` routes.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, error, test, web};
use futures_util::stream;
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::webhook::*;

async fn echo(notifications: Webhook) -> HttpResponse {
    HttpResponse::Ok().json(notifications.into_inner())
}

fn app(
    config: WebhookConfig,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(config)
        .route("/webhook", web::post().to(echo))
}

fn room_created(id: &str) -> Notification {
    Notification::from(RoomCreated::new(id))
}

/// POSTs `body` with `content_type` and returns the status and body text.
async fn post(
    config: WebhookConfig,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, String) {
    let service = test::init_service(app(config)).await;
    let mut request = test::TestRequest::post().uri("/webhook").set_payload(body);
    if let Some(content_type) = content_type {
        request = request.insert_header(("content-type", content_type));
    }
    for header in headers {
        request = request.insert_header(*header);
    }
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn decoded(config: WebhookConfig, content_type: &str, body: Vec<u8>) -> Vec<Notification> {
    let (status, text) = post(config, Some(content_type), &[], body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[actix_web::test]
async fn protobuf_bodies_decode_under_either_content_type_and_with_parameters() {
    let body = room_created("r1").encode().unwrap();
    for content_type in [
        "application/x-protobuf",
        "application/protobuf",
        "Application/X-Protobuf; charset=binary",
    ] {
        assert_eq!(
            decoded(WebhookConfig::default(), content_type, body.clone()).await,
            vec![room_created("r1")],
            "{content_type}"
        );
    }
}

#[actix_web::test]
async fn a_fishjam_batch_is_unwrapped_in_order() {
    let items: Vec<Notification> = (0..5).map(|i| room_created(&format!("r{i}"))).collect();
    let body = encode_batch(&items).unwrap();
    assert_eq!(
        decoded(WebhookConfig::default(), "application/x-protobuf", body).await,
        items
    );
}

#[actix_web::test]
async fn json_bodies_decode_as_the_v03_envelope_or_the_crates_own_shape() {
    let n = room_created("r1");
    let envelope = serde_json::to_vec(&JsonWebhook::from_notification(&n).unwrap()).unwrap();
    assert_eq!(
        decoded(
            WebhookConfig::default(),
            "application/json; charset=utf-8",
            envelope
        )
        .await,
        vec![n.clone()]
    );
    let one = serde_json::to_vec(&n).unwrap();
    assert_eq!(
        decoded(WebhookConfig::default(), "application/json", one).await,
        vec![n.clone()]
    );
    let many = serde_json::to_vec(&vec![n.clone(), room_created("r2")]).unwrap();
    assert_eq!(
        decoded(WebhookConfig::default(), "application/json", many).await,
        vec![n, room_created("r2")]
    );
}

#[actix_web::test]
async fn unsupported_or_missing_content_types_get_415() {
    let body = room_created("r").encode().unwrap();
    for content_type in [Some("text/plain"), Some("application/octet-stream"), None] {
        let (status, text) = post(WebhookConfig::default(), content_type, &[], body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert!(text.starts_with("unsupported content type"), "{text}");
    }
    let json_only = WebhookConfig::default().accept_protobuf(false);
    let (status, _) = post(json_only, Some("application/x-protobuf"), &[], body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let protobuf_only = WebhookConfig::default().accept_json(false);
    let (status, _) = post(protobuf_only, Some("application/json"), &[], b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[actix_web::test]
async fn undecodable_bodies_get_400_naming_what_was_wrong() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "application/x-protobuf",
            vec![0x52, 0x07, 0x0a],
            "not a valid protobuf ServerMessage",
        ),
        (
            "application/x-protobuf",
            ControlMessage::Authenticated.encode(),
            "the `authenticated` control message",
        ),
        (
            "application/x-protobuf",
            MetricsReport::new("{}").encode(),
            "metrics_report",
        ),
        ("application/x-protobuf", vec![], "empty"),
        ("application/json", b"{not json".to_vec(), "not valid JSON"),
        (
            "application/json",
            br#"{"notification": 5}"#.to_vec(),
            "must be a string of protobuf bytes",
        ),
        (
            "application/json",
            br#"{"type":"metrics_report","metrics":{}}"#.to_vec(),
            "metrics_report",
        ),
        (
            "application/json",
            br#"{"type":"room_created"}"#.to_vec(),
            "`room_created`: missing field `room_id`",
        ),
        (
            "application/json",
            br#"[{"type":"room_created","room_id":"r"}, 7]"#.to_vec(),
            "array item 1",
        ),
        (
            "application/json",
            b"42".to_vec(),
            "expected an object or an array",
        ),
    ];
    for (content_type, body, needle) in cases {
        let (status, text) = post(WebhookConfig::default(), Some(content_type), &[], body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{needle}: {text}");
        assert!(text.contains(needle), "expected {needle:?} in {text:?}");
    }
}

#[actix_web::test]
async fn deeply_nested_json_is_a_400_not_a_crash() {
    let nested = "[".repeat(100_000) + &"]".repeat(100_000);
    let (status, text) = post(
        WebhookConfig::default().limit(1 << 20),
        Some("application/json"),
        &[],
        nested.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("recursion limit"), "{text}");
}

#[actix_web::test]
async fn signatures_are_required_and_checked_when_a_secret_is_configured() {
    let body = room_created("signed").encode().unwrap();
    let signature = sign_webhook("s3cret", &body);
    let bare = signature.trim_start_matches("sha256=").to_owned();
    let config = || WebhookConfig::default().secret("s3cret");
    for good in [signature.as_str(), bare.as_str()] {
        let (status, text) = post(
            config(),
            Some("application/x-protobuf"),
            &[(SIGNATURE_HEADER, good)],
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (status, text) = post(config(), Some("application/x-protobuf"), &[], body.clone()).await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "the x-fishjam-signature-256 header is missing"
        )
    );
    let forged = sign_webhook("guess", &body);
    let (status, text) = post(
        config(),
        Some("application/x-protobuf"),
        &[(SIGNATURE_HEADER, &forged)],
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "the x-fishjam-signature-256 signature does not match the body"
        )
    );
    let mut tampered = body.clone();
    tampered.push(0);
    let (status, _) = post(
        config(),
        Some("application/x-protobuf"),
        &[(SIGNATURE_HEADER, &signature)],
        tampered,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_custom_error_handler_shapes_the_response() {
    let config = WebhookConfig::default().error_handler(|err, req| {
        let body = format!("{} refused: {err}", req.path());
        error::InternalError::from_response(err, HttpResponse::ImATeapot().body(body)).into()
    });
    let (status, text) = post(config, Some("text/plain"), &[], b"x".to_vec()).await;
    assert_eq!(status, StatusCode::IM_A_TEAPOT);
    assert!(
        text.starts_with("/webhook refused: unsupported content type"),
        "{text}"
    );
}

#[actix_web::test]
async fn the_config_is_found_as_web_data_too() {
    let service = test::init_service(
        App::new()
            .app_data(web::Data::new(WebhookConfig::default().limit(4)))
            .route("/webhook", web::post().to(echo)),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/webhook")
        .insert_header(("content-type", "application/x-protobuf"))
        .set_payload(room_created("too-long").encode().unwrap())
        .to_request();
    assert_eq!(
        test::call_service(&service, request).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

/// A real server, so bodies can arrive chunked, without a Content-Length.
async fn real_server(config: WebhookConfig) -> String {
    let server = HttpServer::new(move || app(config.clone()))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let url = format!("http://{}/webhook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    url
}

#[actix_web::test]
async fn the_size_limit_holds_with_and_without_content_length() {
    let url = real_server(WebhookConfig::default().limit(1024)).await;
    let client = awc::Client::default();
    let big_room = room_created(&"x".repeat(2000)).encode().unwrap();
    let small = room_created("ok").encode().unwrap();

    let response = client
        .post(&url)
        .content_type("application/x-protobuf")
        .send_body(big_room.clone())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "declared length over the limit"
    );

    // Chunked: no Content-Length, so only the bytes that arrive can be counted.
    let chunked = |body: &[u8], size: usize| {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
            .chunks(size)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        client
            .post(&url)
            .content_type("application/x-protobuf")
            .send_stream(stream::iter(chunks))
    };
    let response = chunked(&big_room, 100).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "chunked, no Content-Length"
    );

    let mut response = chunked(&small, small.len()).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "chunked within the limit"
    );
    let got: Vec<Notification> = serde_json::from_slice(&response.body().await.unwrap()).unwrap();
    assert_eq!(got, vec![room_created("ok")]);

    let exactly: Vec<u8> = {
        let mut id = String::new();
        loop {
            let bytes = room_created(&id).encode().unwrap();
            if bytes.len() >= 1024 {
                break bytes;
            }
            id.push('y');
        }
    };
    assert_eq!(exactly.len(), 1024);
    let response = client
        .post(&url)
        .content_type("application/x-protobuf")
        .send_body(exactly)
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a body of exactly the limit is accepted"
    );
}

#[actix_web::test]
async fn web_json_routes_give_the_same_notifications() {
    async fn v03(body: web::Json<JsonWebhook>) -> HttpResponse {
        HttpResponse::Ok().json(body.notifications().unwrap())
    }
    async fn own(body: web::Json<Notification>) -> HttpResponse {
        HttpResponse::Ok().json(vec![body.into_inner()])
    }
    let service = test::init_service(
        App::new()
            .route("/v03", web::post().to(v03))
            .route("/own", web::post().to(own)),
    )
    .await;
    let n = Notification::from(TrackAdded::new(
        "r",
        Endpoint::Peer("p".into()),
        Track::new("t", TrackType::Audio, r#"{"name":"Zoë"}"#),
    ));
    let short = room_created("r");
    for (uri, body, expected) in [
        (
            "/v03",
            serde_json::to_value(JsonWebhook::from_notification(&short).unwrap()).unwrap(),
            short.clone(),
        ),
        ("/own", serde_json::to_value(&n).unwrap(), n.clone()),
    ] {
        let request = test::TestRequest::post()
            .uri(uri)
            .set_json(body)
            .to_request();
        let got: Vec<Notification> = test::call_and_read_body_json(&service, request).await;
        assert_eq!(got, vec![expected], "{uri}");
    }
}

#[actix_web::test]
async fn an_unknown_member_reaches_the_handler_through_a_webhook() {
    let unknown = Notification::from(UnknownNotification::field(40));
    let single = unknown.encode().unwrap();
    assert_eq!(
        decoded(WebhookConfig::default(), "application/x-protobuf", single).await,
        vec![unknown.clone()]
    );
    let batch = encode_batch(&[room_created("r"), unknown.clone()]).unwrap();
    assert_eq!(
        decoded(WebhookConfig::default(), "application/x-protobuf", batch).await,
        vec![room_created("r"), unknown]
    );
    let json = br#"[{"type":"room_created","room_id":"r"},{"type":"from_the_future","x":1}]"#;
    assert_eq!(
        decoded(WebhookConfig::default(), "application/json", json.to_vec()).await,
        vec![
            room_created("r"),
            Notification::from(UnknownNotification {
                field: None,
                kind: Some("from_the_future".into()),
            })
        ]
    );
}
