//! Helpers of the forwarder's tests: its counters, waiting on them, what the target accepted.

use std::time::Duration;

use actix::prelude::*;
use jellyfish_notifier::forward::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;

use super::target::Target;

pub fn room_created(i: usize) -> Notification {
    Notification::from(RoomCreated::new(format!("room-{i}")))
}

pub async fn stats(forwarder: &Addr<WebhookForwarder>) -> ForwarderStats {
    forwarder.send(GetForwarderStats).await.unwrap()
}

/// Waits until `done(stats)`, polling (at most 60 s).
pub async fn until(forwarder: &Addr<WebhookForwarder>, done: impl Fn(&ForwarderStats) -> bool) {
    for _ in 0..6000 {
        if done(&stats(forwarder).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never got there: {:?}", stats(forwarder).await);
}

/// The distinct notifications the target accepted (2xx), in the order first accepted, and how many
/// POSTs were duplicates of one already accepted.
pub fn accepted(target: &Target) -> (Vec<Notification>, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut order = Vec::new();
    let mut duplicates = 0;
    for post in target.posts() {
        if !(200..300).contains(&post.status) {
            continue;
        }
        if seen.insert(post.id.clone()) {
            order.push(receive_binary(&post.body).unwrap().remove(0));
        } else {
            duplicates += 1;
        }
    }
    (order, duplicates)
}
