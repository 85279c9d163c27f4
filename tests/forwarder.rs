//! `WebhookForwarder` against a real local HTTP target that misbehaves the way local apps do:
//! down at start, down mid-stream, slow, answering 500 and 429 with `Retry-After`, restarting.
//! Every notification arrives at least once, in order, and the `webhook-id` lets the target count
//! exactly one of each.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::forwarding::{accepted, room_created, stats, until};
use common::target::Target;
use jellyfish_notifier::forward::*;
use jellyfish_notifier::retry::RetryPolicy;

fn forwarder(target: &Target) -> Addr<WebhookForwarder> {
    WebhookForwarder::builder(target.url())
        .timeout(Duration::from_secs(1))
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(20))
                .cap(Duration::from_millis(200)),
        )
        .start()
        .unwrap()
}

#[actix_web::test]
async fn every_notification_arrives_in_order_through_outages_errors_and_a_slow_target() {
    let mut target = Target::new();
    let forwarder = forwarder(&target);
    let mut sent = Vec::new();
    let mut send = |i: usize| {
        let notification = room_created(i);
        forwarder.do_send(notification.clone());
        sent.push(notification);
    };

    // Down at start.
    for i in 0..10 {
        send(i);
    }
    until(&forwarder, |s| s.retries >= 2).await;
    target.up();
    until(&forwarder, |s| s.delivered == 10).await;

    // Errors for a while: 500s, then 429 with Retry-After.
    target.answer(&[(500, None), (503, None), (429, Some(1)), (408, None)]);
    for i in 10..20 {
        send(i);
    }
    until(&forwarder, |s| s.delivered == 20).await;

    // Slow: each answer takes 0.6 s, under the 1 s timeout: never reported failed.
    target.delay(Duration::from_millis(600));
    let retries_before = stats(&forwarder).await.retries;
    for i in 20..22 {
        send(i);
    }
    until(&forwarder, |s| s.delivered == 22).await;
    assert_eq!(
        stats(&forwarder).await.retries,
        retries_before,
        "a slow target answering within the timeout is not retried"
    );
    // Too slow once: the target keeps the body but answers after the timeout, so the retry is a
    // duplicate that only the webhook-id tells apart.
    target.delay(Duration::from_millis(1300));
    send(22);
    until(&forwarder, |s| s.retries == retries_before + 1).await;
    target.delay(Duration::ZERO);
    until(&forwarder, |s| s.delivered == 23).await;
    let retries_before = stats(&forwarder).await.retries;

    // Down mid-stream, then back on the same port (a restart).
    target.down().await;
    for i in 23..40 {
        send(i);
    }
    until(&forwarder, |s| s.retries > retries_before + 1).await;
    target.up();
    until(&forwarder, |s| s.delivered == 40).await;

    let (order, duplicates) = accepted(&target);
    assert_eq!(order, sent, "each exactly once by webhook-id, in order");
    assert!(duplicates >= 1, "the timed-out POST was delivered twice");
    let final_stats = stats(&forwarder).await;
    assert_eq!(
        (
            final_stats.queued,
            final_stats.rejected,
            final_stats.dropped
        ),
        (0, 0, 0)
    );
    println!(
        "forwarder: {} delivered, {} retries, {duplicates} duplicate POSTs (dropped by webhook-id)",
        final_stats.delivered, final_stats.retries
    );
    let ids: std::collections::HashSet<String> =
        target.posts().into_iter().map(|post| post.id).collect();
    assert_eq!(ids.len(), 40, "one stable webhook-id per notification");
}

#[actix_web::test]
async fn a_final_4xx_is_counted_and_delivery_moves_on() {
    let mut target = Target::new();
    target.up();
    target.answer(&[(400, None), (404, None)]);
    let forwarder = forwarder(&target);
    for i in 0..3 {
        forwarder.do_send(room_created(i));
    }
    until(&forwarder, |s| s.delivered + s.rejected == 3).await;
    let stats = stats(&forwarder).await;
    assert_eq!((stats.delivered, stats.rejected, stats.retries), (1, 2, 0));
    assert_eq!(accepted(&target).0, vec![room_created(2)]);
}

#[actix_web::test]
async fn the_queue_is_bounded_and_what_does_not_fit_is_counted() {
    let target = Target::new(); // never up: everything queues
    let forwarder = WebhookForwarder::builder(target.url())
        .memory_limit(2_000)
        .retry(RetryPolicy::default().base(Duration::from_secs(10)))
        .start()
        .unwrap();
    for i in 0..500 {
        forwarder.do_send(room_created(i));
    }
    until(&forwarder, |s| s.queued + s.dropped as usize == 500).await;
    let stats = stats(&forwarder).await;
    assert!(stats.memory_bytes <= 2_000, "{stats:?}");
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.queued + stats.dropped as usize, 500);
}

#[actix_web::test]
async fn a_spool_survives_a_restart_and_is_delivered_first() {
    let dir = std::env::temp_dir().join(format!("jellyfish-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut target = Target::new();
    let first = WebhookForwarder::builder(target.url())
        .spool(&dir, 1 << 20)
        .retry(RetryPolicy::default().base(Duration::from_secs(10)))
        .start()
        .unwrap();
    for i in 0..5 {
        first.do_send(room_created(i));
    }
    until(&first, |s| s.spooled == 5).await;
    // The process goes away with its backlog (a drain of zero: nothing more is delivered).
    let left = first
        .send(Drain {
            timeout: Duration::ZERO,
        })
        .await
        .unwrap();
    assert_eq!((left.spooled, left.lost), (5, 0));

    target.up();
    let second = WebhookForwarder::builder(target.url())
        .spool(&dir, 1 << 20)
        .start()
        .unwrap();
    assert_eq!(stats(&second).await.queued, 5, "the backlog is loaded");
    let err = WebhookForwarder::builder(target.url())
        .spool(&dir, 1 << 20)
        .start()
        .unwrap_err();
    assert!(
        err.to_string().contains("in use"),
        "one process per spool: {err}"
    );
    second.do_send(room_created(5));
    until(&second, |s| s.delivered == 6).await;
    let (order, _) = accepted(&target);
    assert_eq!(order, (0..6).map(room_created).collect::<Vec<_>>());
    let left = second
        .send(Drain {
            timeout: Duration::ZERO,
        })
        .await
        .unwrap();
    assert_eq!((left.spooled, left.lost), (0, 0));
    let third = WebhookForwarder::builder(target.url())
        .spool(&dir, 1 << 20)
        .start()
        .unwrap();
    assert_eq!(
        stats(&third).await.queued,
        0,
        "delivered notifications are not delivered again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

type Said = common::kept::Kept<ForwardEvent>;

fn limited(target: &Target, said: &Said) -> Addr<WebhookForwarder> {
    WebhookForwarder::builder(target.url())
        .timeout(Duration::from_secs(1))
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(20))
                .cap(Duration::from_millis(50))
                .max_attempts(Some(2)),
        )
        .events(said.clone().start().recipient())
        .start()
        .unwrap()
}

#[actix_web::test]
async fn a_notification_failing_up_to_the_attempt_limit_is_given_up_said_and_the_next_goes() {
    let mut target = Target::new();
    target.answer(&[(503, None), (503, None)]);
    target.up();
    let said = Said::default();
    let forwarder = limited(&target, &said);
    forwarder.do_send(room_created(0));
    forwarder.do_send(room_created(1));
    until(&forwarder, |s| s.delivered == 1 && s.dropped == 1).await;
    let (accepted, _) = accepted(&target);
    assert_eq!(
        accepted,
        [room_created(1)],
        "the second went once the first was given up"
    );
    let events = said.all();
    let gave_up = events.iter().find_map(|event| match event {
        ForwardEvent::Dropped { cause, .. } => Some(cause.clone()),
        _ => None,
    });
    assert_eq!(
        gave_up,
        Some(DropCause::GaveUp {
            attempts: 2,
            reason: RetryReason::Status { status: 503 }
        }),
        "{events:?}"
    );
}

/// Each notification fails once and is then delivered: a delivery starts the count over, so a
/// limit of two is never reached (without the reset the second failure would be the second in a
/// row, and its notification given up).
#[actix_web::test]
async fn a_delivered_notification_starts_the_count_over() {
    let mut target = Target::new();
    target.up();
    let said = Said::default();
    let forwarder = limited(&target, &said);
    for i in 0..3 {
        target.answer(&[(503, None)]);
        forwarder.do_send(room_created(i));
        until(&forwarder, |s| s.delivered == i as u64 + 1).await;
    }
    let stats = stats(&forwarder).await;
    assert_eq!((stats.delivered, stats.dropped, stats.retries), (3, 0, 3));
}

#[actix_web::test]
async fn a_target_it_could_never_reach_is_refused_at_start_with_its_cause() {
    for url in ["http://", "http://127.0.0.1:99999/", "ftp://host/hook"] {
        let error = WebhookForwarder::builder(url).start().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{url}");
        let cause = error
            .get_ref()
            .and_then(|cause| cause.downcast_ref::<TargetError>())
            .unwrap_or_else(|| panic!("{url}: the cause is a TargetError: {error:?}"));
        assert!(cause.to_string().contains(url), "{cause}");
    }
    let target: ForwardTarget = "http://127.0.0.1:8080/hook".parse().unwrap();
    assert!(WebhookForwarder::builder(target).start().is_ok());
}
