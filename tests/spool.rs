//! The forwarder's disk spool on real disks: its bound in bytes as `du` counts them, a torn tail
//! and a damaged record after a crash, a full disk and a read-only one (real tmpfs mounts), and
//! the files an older version's spool left. The tmpfs ones need root and are ignored by a plain
//! `cargo test`; `.ci/run` runs them: `cargo test -p jellyfish-notifier --test spool -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use actix::prelude::*;
use common::forwarding::{accepted, room_created, stats, until};
use common::kept::Kept;
use common::target::Target;
use jellyfish_notifier::forward::*;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;

/// A fresh folder in the temporary directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jellyfish-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, kib: u64) -> Self {
        let dir = fresh_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("runs mount");
        assert!(
            status.success(),
            "mounting a tmpfs on {} failed: these tests need root (CI runs as root)",
            dir.display()
        );
        Self(dir)
    }

    /// Makes `dir` read-only for whatever opens it from now on (a read-only bind mount of it on
    /// itself): files already open stay writable, as under a process whose disk was remounted
    /// read-only; new ones cannot be created.
    fn read_only_over(dir: &Path) -> Self {
        for args in [&["--bind"][..], &["-o", "remount,bind,ro"][..]] {
            let status = Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success(), "cannot make {} read-only", dir.display());
        }
        Self(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

type Events = Kept<ForwardEvent>;

/// Why notifications were dropped, in order.
fn drop_causes(events: &Events) -> Vec<DropCause> {
    events
        .all()
        .into_iter()
        .filter_map(|event| match event {
            ForwardEvent::Dropped { cause, .. } => Some(cause),
            _ => None,
        })
        .collect()
}

/// A forwarder with a spool in `dir` whose retries wait long (a target that is down is not
/// hammered while the test looks at the disk).
fn spooling(target: &Target, dir: &Path, max: u64, events: &Events) -> Addr<WebhookForwarder> {
    WebhookForwarder::builder(target.url())
        .spool(dir, max)
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(50))
                .cap(Duration::from_millis(200)),
        )
        .events(events.clone().start().recipient())
        .start()
        .unwrap()
}

/// Stops a forwarder at once, as a killed process would, but with its writes synced.
async fn stop_now(forwarder: Addr<WebhookForwarder>) -> DrainOutcome {
    forwarder
        .send(Drain {
            timeout: Duration::ZERO,
        })
        .await
        .unwrap()
}

/// What `du` says the folder takes, in bytes.
fn du(dir: &Path) -> u64 {
    let out = Command::new("du")
        .args(["-s", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|name| name.ends_with(".seg"))
        .map(|name| dir.join(name))
        .collect()
}

/// Notifications of about 60 bytes each, in order.
fn long_room(i: usize) -> Notification {
    room_created_named(&format!("room-{i:0>48}"))
}

fn room_created_named(room: &str) -> Notification {
    Notification::from(notification::RoomCreated::new(room))
}

#[actix_web::test]
async fn the_spool_bound_holds_in_bytes_on_disk_as_du_counts_them() {
    let dir = fresh_dir("spool-bound");
    let target = Target::new(); // down: everything stays queued
    let events = Events::default();
    let max = 2 << 20;
    let forwarder = spooling(&target, &dir, max, &events);
    let sent = 40_000;
    for i in 0..sent {
        forwarder.do_send(long_room(i));
    }
    until(&forwarder, |s| {
        s.queued + s.dropped as usize == sent && s.spooled == s.queued
    })
    .await;
    let counted = stats(&forwarder).await;
    let used = du(&dir);
    assert!(
        used <= max,
        "du says {used} bytes, over the {max}-byte bound"
    );
    assert!(
        used >= max * 3 / 4,
        "the bound is used, not wasted: {used} of {max} bytes ({counted:?})"
    );
    assert!(
        counted.spool_bytes <= max && counted.spool_bytes >= used,
        "{counted:?} vs du {used}"
    );
    assert!(
        counted.dropped > 0 && counted.queued > 20_000,
        "{counted:?}"
    );
    assert!(
        drop_causes(&events)
            .iter()
            .all(|cause| matches!(cause, DropCause::SpoolFull { limit } if *limit == max)),
        "{:?}",
        drop_causes(&events)
    );
    assert!(
        files(&dir).len() <= 12,
        "a few segment files: {:?}",
        files(&dir).len()
    );
    let left = stop_now(forwarder).await;
    assert_eq!((left.spooled, left.lost), (counted.queued, 0));
    let again = spooling(&target, &dir, max, &Events::default());
    assert_eq!(
        stats(&again).await.queued,
        counted.queued,
        "all of it is there after a restart"
    );
    stop_now(again).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[actix_web::test]
async fn a_torn_tail_is_cut_off_and_a_damaged_record_is_skipped_and_said() {
    let dir = fresh_dir("spool-torn");
    let mut target = Target::new();
    let first = spooling(&target, &dir, 1 << 20, &Events::default());
    for i in 0..10 {
        first.do_send(room_created(i));
    }
    until(&first, |s| s.spooled == 10).await;
    stop_now(first).await;
    let [segment] = segments(&dir).try_into().unwrap();
    let whole = std::fs::metadata(&segment).unwrap().len();
    let record = (whole - 16) / 10;

    // A crash in the middle of a write: 30 bytes of a record that never finished.
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&[0x5a; 30]);
    std::fs::write(&segment, &bytes).unwrap();
    let events = Events::default();
    let second = spooling(&target, &dir, 1 << 20, &events);
    assert_eq!(
        stats(&second).await.queued,
        10,
        "every whole record is kept"
    );
    assert_eq!(
        drop_causes(&events),
        [DropCause::SpoolCorrupt {
            path: segment.clone(),
            offset: whole,
            bytes: 30
        }],
        "the torn tail is said, with where it was"
    );
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        whole,
        "and cut off"
    );
    stop_now(second).await;

    // A flipped bit in the fifth record's body.
    let mut bytes = std::fs::read(&segment).unwrap();
    let fifth = 16 + 4 * record;
    bytes[(fifth + record - 1) as usize] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let events = Events::default();
    target.up();
    let third = spooling(&target, &dir, 1 << 20, &events);
    until(&third, |s| s.delivered == 4 && s.queued == 0).await;
    assert_eq!(
        drop_causes(&events),
        [DropCause::SpoolCorrupt {
            path: segment.clone(),
            offset: fifth,
            bytes: 6 * record
        }]
    );
    let (order, _) = accepted(&target);
    assert_eq!(order, (0..4).map(room_created).collect::<Vec<_>>());
    stop_now(third).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[actix_web::test]
#[ignore = "mounts a tmpfs, which needs root: .ci/run runs these with --ignored"]
async fn a_full_disk_is_said_with_its_cause_and_what_it_refused_is_still_delivered() {
    let disk = Tmpfs::mount("spool-full", 64);
    let dir = disk.0.join("spool");
    let mut target = Target::new();
    let events = Events::default();
    let forwarder = spooling(&target, &dir, 64 << 20, &events);
    let sent = 2_000; // about 150 KB of records on a 64 KiB disk
    for i in 0..sent {
        forwarder.do_send(long_room(i));
    }
    until(&forwarder, |s| s.queued == sent && s.spooled > 0).await;
    until(&forwarder, |_| {
        events
            .all()
            .iter()
            .any(|e| matches!(e, ForwardEvent::SpoolFailing { .. }))
    })
    .await;
    let failing: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            ForwardEvent::SpoolFailing { path, error, .. } => Some((path, error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failing.len(),
        1,
        "said once, not per notification: {failing:?}"
    );
    let (path, error) = &failing[0];
    assert!(path.starts_with(&dir), "names the file: {}", path.display());
    assert!(
        error.contains("No space left on device"),
        "names the cause: {error}"
    );
    let stats = stats(&forwarder).await;
    assert_eq!(
        stats.dropped, 0,
        "nothing is dropped while memory holds it: {stats:?}"
    );
    assert!(stats.spooled < sent, "{stats:?}");
    assert!(
        files(&dir)
            .iter()
            .all(|name| name.ends_with(".seg") || name == "ledger" || name == ".lock"),
        "no leftovers: {:?}",
        files(&dir)
    );

    target.up();
    until(&forwarder, |s| s.delivered == sent as u64).await;
    let (order, duplicates) = accepted(&target);
    assert_eq!(order, (0..sent).map(long_room).collect::<Vec<_>>());
    assert_eq!(duplicates, 0);
    // Delivered segments are removed; the disk takes writes again, and that is said too.
    forwarder.do_send(long_room(sent));
    until(&forwarder, |s| {
        s.spooled == 1 || s.delivered == sent as u64 + 1
    })
    .await;
    until(&forwarder, |_| {
        events
            .all()
            .iter()
            .any(|e| matches!(e, ForwardEvent::SpoolRecovered { .. }))
    })
    .await;
    stop_now(forwarder).await;
}

#[actix_web::test]
#[ignore = "mounts a tmpfs, which needs root: .ci/run runs these with --ignored"]
async fn a_read_only_disk_is_said_with_its_cause_and_nothing_is_lost_while_the_process_lives() {
    // Read-only from the start: the forwarder does not start, and says where and why.
    let read_only = Tmpfs::mount("spool-ro-start", 64);
    let covered = Tmpfs::read_only_over(&read_only.0);
    let target = Target::new();
    let err = WebhookForwarder::builder(target.url())
        .spool(read_only.0.join("spool"), 1 << 20)
        .start()
        .unwrap_err();
    let said = err.to_string();
    assert!(
        said.contains("Read-only file system") && said.contains(&*read_only.0.to_string_lossy()),
        "{said}"
    );
    drop(covered);

    // Read-only under a running forwarder: the next segment cannot be created.
    let disk = Tmpfs::mount("spool-ro", 4096);
    let dir = disk.0.join("spool");
    let mut target = Target::new();
    let events = Events::default();
    let forwarder = spooling(&target, &dir, 1 << 20, &events);
    forwarder.do_send(long_room(0));
    until(&forwarder, |s| s.spooled == 1).await;
    let covered = Tmpfs::read_only_over(&dir);
    let sent = 3_000; // more than one 128 KiB segment
    for i in 1..sent {
        forwarder.do_send(long_room(i));
    }
    until(&forwarder, |_| {
        events
            .all()
            .iter()
            .any(|e| matches!(e, ForwardEvent::SpoolFailing { .. }))
    })
    .await;
    let (path, error) = events
        .all()
        .into_iter()
        .find_map(|e| match e {
            ForwardEvent::SpoolFailing { path, error, .. } => Some((path, error)),
            _ => None,
        })
        .unwrap();
    assert!(
        error.contains("Read-only file system"),
        "names the cause: {error}"
    );
    assert!(path.starts_with(&dir), "names the file: {}", path.display());
    until(&forwarder, |s| s.queued == sent).await;
    target.up();
    until(&forwarder, |s| s.delivered == sent as u64).await;
    let left = stop_now(forwarder).await;
    assert_eq!((left.spooled, left.lost, left.stats.dropped), (0, 0, 0));
    let (order, duplicates) = accepted(&target);
    assert_eq!(order, (0..sent).map(long_room).collect::<Vec<_>>());
    assert_eq!(duplicates, 0);
    drop(covered);
}

#[actix_web::test]
async fn an_older_versions_spool_files_are_taken_in_and_its_leftovers_removed() {
    let dir = fresh_dir("spool-legacy");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..3u64 {
        let body = room_created(i as usize).encode().unwrap();
        std::fs::write(dir.join(format!("{i:020}_{:016x}.pb", 0xab)), body).unwrap();
    }
    std::fs::write(dir.join(format!("{:020}_{:016x}.tmp", 3, 0xab)), b"").unwrap();
    let mut target = Target::new();
    target.up();
    let forwarder = spooling(&target, &dir, 1 << 20, &Events::default());
    until(&forwarder, |s| s.delivered == 3).await;
    let (order, _) = accepted(&target);
    assert_eq!(order, (0..3).map(room_created).collect::<Vec<_>>());
    assert_eq!(
        target.posts()[0].id,
        "msg_00000000000000ab_0",
        "the same idempotency key as the old version would have sent"
    );
    stop_now(forwarder).await;
    assert!(
        files(&dir)
            .iter()
            .all(|name| !name.ends_with(".pb") && !name.ends_with(".tmp")),
        "{:?}",
        files(&dir)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
