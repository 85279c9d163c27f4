//! TLS end to end: the emulator serves `https`/`wss` with a freshly generated self-signed
//! certificate; the notifier and the Room API trust it when told to, and fail once, clearly and
//! for good, when not.

use std::time::Duration;

use actix::prelude::*;
use jellyfish_emulator::Emulator;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::room_api::TransportError;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::*;
use tokio::sync::mpsc;

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate DER, PKCS#8 key DER).
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    (
        certified.cert.der().to_vec(),
        certified.signing_key.serialize_der(),
    )
}

async fn tls_emulator(certificate: &[u8], key: &[u8]) -> Emulator {
    Emulator::builder()
        .tls(vec![certificate.to_vec()], key.to_vec())
        .start()
        .await
        .unwrap()
}

struct Forward(mpsc::UnboundedSender<Notification>);

impl Actor for Forward {
    type Context = Context<Self>;
}

impl Handler<Notification> for Forward {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        let _ = self.0.send(notification);
    }
}

#[actix_web::test]
async fn notifications_arrive_over_wss_and_the_room_api_works_over_https() {
    let (certificate, key) = self_signed();
    let emulator = tls_emulator(&certificate, &key).await;
    assert!(emulator.http_url().starts_with("https://"));

    let (tx, mut rx) = mpsc::unbounded_channel();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .secure(true)
        .add_root_certificate(certificate.clone())
        .subscribe_notifications(Forward(tx).start().recipient())
        .start();
    outcome(&notifier).await.expect("connected over wss://");

    let api = RoomApi::builder(emulator.http_url(), "development")
        .add_root_certificate(certificate)
        .build()
        .unwrap();
    let room = api
        .create_room(&RoomConfig {
            room_id: Some("secure".into()),
            ..RoomConfig::default()
        })
        .await
        .expect("https:// with the added root")
        .room;
    assert_eq!(api.list_rooms().await.unwrap()[0].id, room.id);
    let received = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received, Notification::from(RoomCreated::new("secure")));
}

/// How `WaitReady` ends: ready, or the error that stopped the notifier.
async fn outcome(notifier: &Addr<WsNotifier>) -> Result<(), NotifierError> {
    tokio::time::timeout(Duration::from_secs(10), notifier.send(WaitReady))
        .await
        .expect("an answer in time")
        .expect("mailbox")
}

#[actix_web::test]
async fn a_certificate_that_does_not_verify_fails_once_with_a_clear_final_error() {
    let (certificate, key) = self_signed();
    let emulator = tls_emulator(&certificate, &key).await;

    // No root added: the self-signed certificate's issuer is unknown.
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .secure(true)
        .start();
    let result = outcome(&notifier).await;
    let Err(NotifierError::Tls { host, reason }) = &result else {
        panic!("{result:?}")
    };
    assert_eq!(host, "127.0.0.1");
    assert!(reason.to_lowercase().contains("issuer"), "{reason}");
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("127.0.0.1") && message.contains("not retried"),
        "{message}"
    );
    assert_eq!(
        notifier.send(GetStats).await.unwrap().connection_attempts,
        1,
        "final: no retry storm"
    );

    let api = RoomApi::builder(emulator.http_url(), "development")
        .build()
        .unwrap();
    let err = api.list_rooms().await.unwrap_err();
    let RoomApiError::Certificate { host, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, "127.0.0.1");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    // A root certificate that is not one at all is said before anything connects.
    let err = RoomApi::builder(emulator.http_url(), "development")
        .add_root_certificate(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, RoomApiError::Certificate { reason, .. } if reason.contains("root certificate 0")),
        "{err:?}"
    );
}

/// A compose service name given without a port reads as a Fishjam ID; every error about it says
/// so, with the URL it became and how to give a host instead (checked before anything connects:
/// an unusable root certificate fails at the start).
#[actix_web::test]
async fn an_address_taken_as_a_fishjam_id_says_so_in_its_errors() {
    let err = WsNotifier::builder("jellyfish", "token")
        .add_root_certificate(b"not a certificate".to_vec())
        .try_start()
        .unwrap_err();
    assert!(matches!(err.cause(), NotifierError::Tls { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("\"jellyfish\" was taken as a Fishjam ID")
            && message.contains("https://fishjam.io/api/v1/connect/jellyfish")
            && message.contains("jellyfish:5002"),
        "{message}"
    );
    let err = RoomApi::builder("jellyfish", "token")
        .add_root_certificate(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert!(
        matches!(err.cause(), RoomApiError::Certificate { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("was taken as a Fishjam ID"),
        "{err}"
    );
    // A host with a port is a host: no note.
    let err = WsNotifier::builder("jellyfish:5002", "token")
        .secure(true)
        .add_root_certificate(b"not a certificate".to_vec())
        .try_start()
        .unwrap_err();
    assert!(matches!(err, NotifierError::Tls { .. }), "{err:?}");
}

/// `wss://` (or `https://`) for a server that speaks plain WebSocket and HTTP there: said as
/// such, and final after one attempt, instead of a corrupt-message error retried for ever.
#[actix_web::test]
async fn a_port_that_answers_tls_in_plain_text_is_a_wrong_address_said_once() {
    let emulator = Emulator::builder().start().await.unwrap(); // plain ws:// and http://
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .secure(true)
        .start();
    let result = outcome(&notifier).await;
    let Err(err) = result else {
        panic!("connected over TLS to a plain server")
    };
    assert_eq!(
        err,
        NotifierError::NotTls {
            host: "127.0.0.1".to_owned()
        }
    );
    assert!(err.to_string().contains("use ws://"), "{err}");
    assert_eq!(
        notifier.send(GetStats).await.unwrap().connection_attempts,
        1,
        "final: one attempt"
    );

    let api = RoomApi::builder(emulator.server_address(), "development")
        .secure(true)
        .build()
        .unwrap();
    let err = api.list_rooms().await.unwrap_err();
    assert_eq!(
        err,
        RoomApiError::Transport(TransportError::NotTls),
        "{err}"
    );
    assert!(err.to_string().contains("use http://"), "{err}");
}

/// `https://` for a plain HTTP server that waits for a request line and never answers a TLS
/// handshake: the forwarder and the Room API say that the handshake went unanswered, not "timeout
/// while establishing connection". A port where nothing listens is still "cannot connect".
#[actix_web::test]
async fn an_unanswered_tls_handshake_is_said_as_such() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    actix_web::rt::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // read nothing, answer nothing, keep it open
        }
    });

    let (events, mut received) = mpsc::unbounded_channel();
    struct Events(mpsc::UnboundedSender<forward::ForwardEvent>);
    impl Actor for Events {
        type Context = Context<Self>;
    }
    impl Handler<forward::ForwardEvent> for Events {
        type Result = ();
        fn handle(&mut self, event: forward::ForwardEvent, _: &mut Context<Self>) {
            let _ = self.0.send(event);
        }
    }
    let forwarder = WebhookForwarder::builder(format!("https://127.0.0.1:{port}/hook"))
        .timeout(Duration::from_secs(2))
        .events(Events(events).start().recipient())
        .start()
        .unwrap();
    forwarder.do_send(Notification::from(RoomCreated::new("r1")));
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a retry is said")
        .unwrap();
    let forward::ForwardEvent::Retrying { reason, .. } = event else {
        panic!("{event:?}")
    };
    assert_eq!(
        reason,
        forward::RetryReason::Failed(TransportError::TlsHandshakeUnanswered)
    );
    assert!(
        reason
            .to_string()
            .contains("did not answer the TLS handshake"),
        "{reason}"
    );

    let api = RoomApi::builder(format!("127.0.0.1:{port}"), "token")
        .secure(true)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(
        api.list_rooms().await.unwrap_err(),
        RoomApiError::Transport(TransportError::TlsHandshakeUnanswered)
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = RoomApi::builder(format!("127.0.0.1:{closed}"), "token")
        .secure(true)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = api.list_rooms().await.unwrap_err();
    assert!(
        matches!(err, RoomApiError::Transport(TransportError::Connect { .. })),
        "{err:?}"
    );
}
