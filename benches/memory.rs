//! Memory, measured with a counting allocator: bytes per idle subscriber (what the notifier keeps
//! for it, and with its actor) and bytes per in-flight notification (one delivered to many
//! subscribers that have not handled it yet), each beside the bare actix baseline of the same shape.
//!
//! `cargo bench --bench memory` (prints a table; `-- --test` runs a quick pass)

#![allow(unsafe_code)] // the counting global allocator

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use actix::prelude::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::notifier::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { SystemAlloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { SystemAlloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { SystemAlloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[derive(Clone, Message)]
#[rtype(result = "()")]
struct Shared(#[allow(dead_code)] Arc<Notification>);

struct Idle;

impl Actor for Idle {
    type Context = Context<Self>;
}

impl Handler<Notification> for Idle {
    type Result = ();
    fn handle(&mut self, _: Notification, _: &mut Context<Self>) {}
}

impl Handler<Shared> for Idle {
    type Result = ();
    fn handle(&mut self, _: Shared, _: &mut Context<Self>) {}
}

fn notification() -> Notification {
    Notification::from(TrackAdded::new(
        "9f6e1c2a-5b1d-4c8e-9a7f-2d3b4c5d6e7f",
        Endpoint::Peer("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
        Track::new("0a1b2c3d:video", TrackType::Video, r#"{"source":"camera"}"#),
    ))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let subscribers: usize = if quick { 100 } else { 10_000 };
    let messages: usize = if quick { 10 } else { 100 };
    let system = System::new();
    system.block_on(async {
        // Actors first: their own cost is the application's, measured separately.
        let before_actors = live();
        let actors: Vec<Addr<Idle>> = (0..subscribers).map(|_| Idle.start()).collect();
        let per_actor = (live() - before_actors) as f64 / subscribers as f64;

        let before = live();
        let mut fan_out = FanOut::<Notification>::default();
        for (id, actor) in actors.iter().enumerate() {
            fan_out.add(SubscriptionId::new(id as u64), actor.clone().recipient());
        }
        let per_subscriber = (live() - before) as f64 / subscribers as f64;

        let before = live();
        let bare: Vec<Recipient<Shared>> = actors.iter().map(|a| a.clone().recipient()).collect();
        let per_bare_recipient = (live() - before) as f64 / subscribers as f64;

        // In flight: delivered, not yet handled (nothing yields to the actors in between).
        let before = live();
        for _ in 0..messages {
            fan_out.deliver(notification(), DeliveryPolicy::Unbounded);
        }
        let per_delivery = (live() - before) as f64 / (subscribers * messages) as f64;
        tokio::task::yield_now().await;

        let before = live();
        let payload = Shared(Arc::new(notification()));
        for _ in 0..messages {
            for recipient in &bare {
                recipient.do_send(payload.clone());
            }
        }
        let per_bare_delivery = (live() - before) as f64 / (subscribers * messages) as f64;

        println!("memory ({subscribers} subscribers, {messages} notifications in flight)");
        println!("  idle subscriber, notifier side (FanOut entry)   {per_subscriber:>8.1} bytes");
        println!(
            "  bare Recipient<Arc payload> (baseline)          {per_bare_recipient:>8.1} bytes"
        );
        println!("  subscriber actor itself (application's)         {per_actor:>8.1} bytes");
        println!("  in-flight delivery (queued Notification)        {per_delivery:>8.1} bytes");
        println!(
            "  bare do_send of an Arc payload (baseline)       {per_bare_delivery:>8.1} bytes"
        );
    });
}
