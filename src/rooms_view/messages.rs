//! The messages a [`RoomsView`] answers, each with its handler.

use actix::prelude::*;

use super::*;

/// Subscribes an actor to a [`RoomsView`]'s [`RoomChange`]s. It first receives the current state
/// (as synthesized notifications and a [`RoomChange::Resynced`] per room), then every change.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct SubscribeRoomChanges(pub Recipient<RoomChange>);

/// Answers one room from the view's memory (no REST call).
#[derive(Clone, Debug, actix::Message)]
#[rtype(result = "Option<Room>")]
pub struct GetRoom(pub RoomId);

/// Answers every room from the view's memory (no REST call), in room id order.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "RoomsModel")]
pub struct GetRooms;

/// Answers the view's [`RoomsViewStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "RoomsViewStats")]
pub struct GetViewStats;

/// Asks for a full resync now (after the current one, if one runs).
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct Resync;

/// Resolves once the view has finished its first full resync (at once if it has). Wrap it in a
/// timeout: while the server cannot be reached, it waits.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct WaitSynced;

impl Handler<SubscribeRoomChanges> for RoomsView {
    type Result = ();

    fn handle(&mut self, msg: SubscribeRoomChanges, _: &mut Context<Self>) {
        let mut notifications = Vec::new();
        for room in self.model.rooms() {
            diff::synthesize(&room.id, None, Some(room), &mut notifications);
            for notification in notifications.drain(..) {
                msg.0.do_send(RoomChange::Synthesized(notification));
            }
            msg.0.do_send(RoomChange::Resynced(diff::shared(room)));
        }
        self.subscribers.push(msg.0);
    }
}

impl Handler<GetRoom> for RoomsView {
    type Result = Option<Room>;

    fn handle(&mut self, msg: GetRoom, _: &mut Context<Self>) -> Option<Room> {
        self.model.room(&msg.0).cloned()
    }
}

impl Handler<GetRooms> for RoomsView {
    type Result = MessageResult<GetRooms>;

    fn handle(&mut self, _: GetRooms, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.model.clone())
    }
}

impl Handler<GetViewStats> for RoomsView {
    type Result = MessageResult<GetViewStats>;

    fn handle(&mut self, _: GetViewStats, _: &mut Context<Self>) -> Self::Result {
        self.subscribers.retain(|s| s.connected());
        MessageResult(RoomsViewStats {
            fetching: !matches!(self.phase, Phase::Idle)
                || self.queue.all.is_some()
                || !self.queue.rooms.is_empty(),
            rooms: self.model.len(),
            subscribers: self.subscribers.len(),
            ..self.stats.clone()
        })
    }
}

impl Handler<Resync> for RoomsView {
    type Result = ();

    fn handle(&mut self, _: Resync, ctx: &mut Context<Self>) {
        self.want_all(SyncReason::Requested);
        self.pump(ctx);
    }
}

impl Handler<WaitSynced> for RoomsView {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: WaitSynced, _: &mut Context<Self>) -> Self::Result {
        if self.stats.synced {
            return Box::pin(async {});
        }
        let (sender, receiver) = oneshot::channel();
        self.waiters.push(sender);
        Box::pin(async move {
            let _ = receiver.await;
        })
    }
}
