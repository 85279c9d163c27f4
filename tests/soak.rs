//! The soak test: the emulator's firehose plus a random schedule of faults, for hundreds of cycles.
//! After each cycle: the notifier is ready again within its backoff bound, each connection was
//! subscribed exactly once, every notification the emulator wrote while the link was up reached every
//! live subscriber exactly once and in order, and memory stays bounded.
//!
//! Quick (CI): `cargo test --release --test soak -- --nocapture` (200 cycles).
//! Long:       `SOAK_CYCLES=5000 cargo test --release --test soak -- --nocapture`.
//! Replay:     `SOAK_SEED=<seed printed by a run> …`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::recorder::{Recorder, event_where, recv};
use jellyfish_emulator::{ConnectionRecord, Emulator, SentFrame, firehose_notification};
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;
use tokio::sync::mpsc;

/// The firehose sequence number carried in a notification's room id (`fh{seq}@{nanos}`).
fn seq_of(notification: &Notification) -> u64 {
    let room = notification
        .room_id()
        .expect("firehose notifications name a room");
    room.trim_start_matches("fh")
        .split('@')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a firehose id")
}

/// The sequence numbers the emulator wrote, connection after connection (markers left out).
fn sent_seqs(records: &[ConnectionRecord]) -> impl Iterator<Item = u64> + '_ {
    records.iter().flat_map(|r| {
        r.notifications()
            .filter(|n| !matches!(n, Notification::Unknown(_)))
            .map(seq_of)
            .collect::<Vec<_>>()
    })
}

/// A subscriber on a busy thread of its own, slower than the firehose.
struct Slow(mpsc::UnboundedSender<Notification>);

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<Notification> for Slow {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        std::thread::sleep(Duration::from_micros(50));
        let _ = self.0.send(notification);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Drop,
    Close,
    Restart,
    Malformed,
    Unknown,
    Delay,
    /// The client process stalls longer than the idle timeout in the middle of a burst.
    Stall,
    /// The link turns into a black hole (TCP up, nothing passes) until the client notices.
    HalfOpen,
    None,
}

const FAULTS: [Fault; 9] = [
    Fault::Drop,
    Fault::Close,
    Fault::Restart,
    Fault::Malformed,
    Fault::Unknown,
    Fault::Delay,
    Fault::Stall,
    Fault::HalfOpen,
    Fault::None,
];

/// The soak's idle timeout: short, so that stalls and black holes cost little time.
const IDLE: Duration = Duration::from_millis(400);

/// What one subscriber got, checked against what was sent.
#[derive(Default, Debug)]
struct Tally {
    delivered: u64,
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
}

impl Tally {
    fn check(&mut self, sent: &[u64], got: &[u64]) {
        self.delivered += got.len() as u64;
        let mut seen = std::collections::HashSet::new();
        let mut last = None;
        for seq in got {
            if !seen.insert(*seq) {
                self.duplicated += 1;
            }
            if last.is_some_and(|l| *seq < l) {
                self.out_of_order += 1;
            }
            last = Some(*seq);
        }
        self.lost += sent.iter().filter(|s| !seen.contains(s)).count() as u64;
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

async fn drain_until(
    rx: &mut mpsc::UnboundedReceiver<Notification>,
    marker: u64,
    into: &mut Vec<u64>,
    who: &str,
) {
    loop {
        let notification = recv(rx, who).await;
        // Unknown members are delivered too; the firehose order is what is checked here.
        if matches!(notification, Notification::Unknown(_)) {
            continue;
        }
        let seq = seq_of(&notification);
        into.push(seq);
        if seq == marker {
            return;
        }
    }
}

#[actix_web::test]
async fn soak_survives_a_random_schedule_of_faults_with_nothing_lost() {
    let cycles: u64 = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    println!("soak: {cycles} cycles, seed {seed}");

    let backoff = RetryPolicy::default()
        .base(Duration::from_millis(5))
        .cap(Duration::from_millis(50))
        .max_attempts(None);
    let emulator = Emulator::builder()
        .ping_interval(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    // Through a proxy that can black-hole the link.
    let proxy = common::proxy::Proxy::start(emulator.addr()).await;
    let notifier = WsNotifier::builder(proxy.addr.to_string(), "development")
        .retry(backoff)
        .idle_timeout(IDLE)
        .ping_interval(Duration::from_millis(100))
        .start();

    let (fast, mut fast_rx) = Recorder::start();
    let _events = notifier
        .send(SubscribeConnectionEvents(fast.clone().recipient()))
        .await
        .unwrap();
    let _fast = notifier
        .send(SubscribeServerNotifications(fast.clone().recipient()))
        .await
        .unwrap();
    let slow_arbiter = Arbiter::new();
    let (slow_tx, mut slow_rx) = mpsc::unbounded_channel();
    let slow = Slow::start_in_arbiter(&slow_arbiter.handle(), move |_| Slow(slow_tx));
    let _slow = notifier
        .send(SubscribeServerNotifications(slow.recipient()))
        .await
        .unwrap();
    let (doomed, _doomed_rx) = Recorder::start();
    let _doomed = notifier
        .send(SubscribeServerNotifications(doomed.clone().recipient()))
        .await
        .unwrap();
    notifier.send(WaitReady).await.unwrap().unwrap();

    let rss_start = rss_bytes();
    let mut rss_peak = rss_start;
    let mut seq = 0u64;
    let mut faults: BTreeMap<Fault, u64> = BTreeMap::new();
    let (mut fast_tally, mut slow_tally) = (Tally::default(), Tally::default());
    let mut sent_total = 0u64;
    let mut reconnects = 0u64;
    let mut slowest_recovery = Duration::ZERO;
    let started = Instant::now();

    for cycle in 0..cycles {
        if cycle == cycles / 2 {
            doomed.send(common::recorder::Stop).await.unwrap(); // a subscriber that dies mid-run
        }
        let fault = FAULTS[rng.usize(..FAULTS.len())];
        *faults.entry(fault).or_default() += 1;
        let burst = rng.u64(10..60);
        let fault_at = rng.u64(0..burst);
        let mut disconnecting = false;
        if fault == Fault::HalfOpen {
            // Before the burst, so nothing is written into the hole: what a black hole swallows
            // no client can get, as with a dying server.
            proxy.blackhole(true);
            let event = event_where(&mut fast_rx.events, "the black hole noticed", |e| {
                matches!(e, ConnectionEvent::Disconnected { .. })
            })
            .await;
            assert!(
                matches!(
                    event,
                    ConnectionEvent::Disconnected {
                        reason: DisconnectReason::IdleTimeout { .. },
                        ..
                    }
                ),
                "cycle {cycle}: {event:?}"
            );
            proxy.blackhole(false);
            event_where(&mut fast_rx.events, "ready after the black hole", |e| {
                matches!(e, ConnectionEvent::Ready { .. })
            })
            .await;
            // The server lets go of the dead connection once the client has closed its end.
            assert!(
                emulator
                    .wait_until(Duration::from_secs(10), |e| e.socket_counts().open == 1)
                    .await,
                "cycle {cycle}: the half-open connection is gone at the server"
            );
            reconnects += 1;
        }
        for i in 0..burst {
            if i == fault_at {
                disconnecting = match fault {
                    Fault::Drop => emulator.drop_connections() > 0,
                    Fault::Close => {
                        let code = [1001, 1006, 1011, 1012, 1013, 4000][rng.usize(..6)];
                        emulator.close_connections(code, "soak") > 0
                    }
                    Fault::Malformed => {
                        emulator.send_malformed();
                        false
                    }
                    Fault::Unknown => {
                        emulator.send_unknown_member(rng.u32(35..10_000));
                        false
                    }
                    Fault::Delay => {
                        emulator.set_frame_delay(Duration::from_micros(rng.u64(0..500)));
                        false
                    }
                    Fault::Stall => {
                        // The notifier's own thread stops (as SIGSTOP, a blocking handler or a
                        // blocked stdout stop it) while frames are on their way.
                        std::thread::sleep(IDLE + Duration::from_millis(rng.u64(50..400)));
                        false
                    }
                    // A restart loses what the dying server had not flushed, which a real server
                    // crash loses too; it is injected between bursts (below) so the record stays exact.
                    Fault::Restart | Fault::HalfOpen | Fault::None => false,
                };
            }
            emulator.push_notification(&firehose_notification(seq));
            seq += 1;
        }
        if fault == Fault::Restart {
            let written = |e: &Emulator| sent_seqs(&e.connection_records()).max() == Some(seq - 1);
            assert!(
                emulator.wait_until(Duration::from_secs(10), written).await,
                "cycle {cycle}: the burst was written"
            );
            emulator
                .restart(Duration::from_millis(rng.u64(0..50)))
                .await
                .unwrap();
            disconnecting = true;
        }
        if disconnecting {
            let fault_time = Instant::now();
            let event = event_where(&mut fast_rx.events, "disconnected", |e| {
                matches!(e, ConnectionEvent::Disconnected { .. })
            })
            .await;
            let ConnectionEvent::Disconnected { retry_in, .. } = event else {
                unreachable!()
            };
            assert!(
                retry_in <= Duration::from_millis(50),
                "cycle {cycle}: retry {retry_in:?} beyond the cap"
            );
            event_where(&mut fast_rx.events, "ready", |e| {
                matches!(e, ConnectionEvent::Ready { .. })
            })
            .await;
            slowest_recovery = slowest_recovery.max(fault_time.elapsed());
            reconnects += 1;
            emulator.set_frame_delay(Duration::ZERO);
        }
        if fault != Fault::Delay {
            emulator.set_frame_delay(Duration::ZERO);
        }

        // A marker the subscribers must reach: once they have, everything before it has arrived.
        let marker = seq;
        notifier.send(WaitReady).await.unwrap().unwrap();
        assert!(
            emulator
                .wait_until(Duration::from_secs(10), |e| e.socket_counts().notifications
                    == 1)
                .await,
            "cycle {cycle}: subscribed again"
        );
        emulator.push_notification(&firehose_notification(marker));
        seq += 1;
        let (mut fast_got, mut slow_got) = (Vec::new(), Vec::new());
        drain_until(
            &mut fast_rx.notifications,
            marker,
            &mut fast_got,
            &format!("fast subscriber, cycle {cycle} ({fault:?})"),
        )
        .await;
        drain_until(
            &mut slow_rx,
            marker,
            &mut slow_got,
            &format!("slow subscriber, cycle {cycle} ({fault:?})"),
        )
        .await;

        let records = emulator.connection_records();
        let sent: Vec<u64> = sent_seqs(&records).collect();
        for record in &records {
            let subscriptions = record
                .sent
                .iter()
                .filter(|f| matches!(f, SentFrame::SubscribeResponse(_)))
                .count();
            assert!(
                subscriptions <= 1,
                "cycle {cycle}: connection {} subscribed {subscriptions} times",
                record.id
            );
        }
        assert_eq!(fast_got, sent, "cycle {cycle} ({fault:?}): fast subscriber");
        assert_eq!(slow_got, sent, "cycle {cycle} ({fault:?}): slow subscriber");
        fast_tally.check(&sent, &fast_got);
        slow_tally.check(&sent, &slow_got);
        sent_total += sent.len() as u64;
        emulator.clear_records();
        rss_peak = rss_peak.max(rss_bytes());
    }

    let stats = notifier.send(GetStats).await.unwrap();
    assert_eq!(
        stats.notification_subscribers, 2,
        "the dead subscriber was pruned, the live ones kept"
    );
    let growth = rss_peak.saturating_sub(rss_start);
    println!(
        "soak: {cycles} cycles in {:.1}s, seed {seed}",
        started.elapsed().as_secs_f64()
    );
    println!("  faults: {faults:?}");
    println!("  reconnects: {reconnects}, slowest recovery {slowest_recovery:?}");
    println!("  notifications sent while connected: {sent_total}");
    for (name, tally) in [("fast", &fast_tally), ("slow", &slow_tally)] {
        println!(
            "  {name} subscriber: delivered {}, lost {}, duplicated {}, out of order {}",
            tally.delivered, tally.lost, tally.duplicated, tally.out_of_order
        );
        assert_eq!(
            (tally.lost, tally.duplicated, tally.out_of_order),
            (0, 0, 0)
        );
        assert_eq!(tally.delivered, sent_total);
    }
    println!(
        "  malformed frames skipped: {}, unknown members delivered and counted: {}",
        stats.malformed_frames, stats.unknown_members
    );
    println!(
        "  resident memory: start {} MiB, peak {} MiB",
        rss_start >> 20,
        rss_peak >> 20
    );
    assert!(growth < 256 << 20, "memory grew by {} MiB", growth >> 20);
    slow_arbiter.stop();
}
