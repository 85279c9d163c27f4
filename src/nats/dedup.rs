//! De-duplication ids that two bridges on one server agree on.

use std::hash::BuildHasher as _;
use std::time::{Duration, Instant};

// hashbrown with foldhash: flat maps with small keys and a hash a few times cheaper than std's
// SipHash, on the bridge's per-notification path.
use hashbrown::{DefaultHashBuilder, HashMap};

use sha2::{Digest, Sha256};

/// De-duplication ids (`Nats-Msg-Id`) that two bridges on the same server compute alike.
///
/// The id of a notification is a hash of its room, its bytes, and how many times this bridge saw
/// the same bytes in that room before (within the duplicate window). Notifications are nearly
/// always unique (they carry peer and track ids), so two bridges agree on their ids even when one
/// missed others during a gap. Repeated ones (a voice-activity flip-flop, a peer reconnecting) are
/// told apart by the count. When one bridge missed an earlier repetition its count lags and its id
/// names that earlier message: JetStream answers "duplicate" with a sequence older than this
/// bridge's previous message in the room ([`Verdict::Suspect`]), and if that message was stored
/// more than a second before this notification arrived, the bridge counts one more and publishes
/// again ([`DedupIds::recount`]), so the repetition is stored, not lost. A bridge that heard
/// nothing for a while (before its first connection, during a gap) says where the stream was
/// then ([`DedupIds::gap_at`]): a duplicate naming any message until there is suspect too, even in
/// a room it had not heard of since.
///
/// **Guarantees.** One bridge never loses a notification to de-duplication. Two bridges on one
/// server store each notification they both received once, gaps or not, and killing either loses
/// nothing the other received.
///
/// **Limits.** The time check assumes the bridges receive a frame within a second of each other
/// and their clocks agree with the NATS server's within that second. Identical repetitions of one
/// notification in a room less than a second apart, missed by different bridges, could be taken for
/// one another: one of them stored once. A stored copy the stream cannot show (it expired) counts
/// as a repetition: stored again, a duplicate, never a loss. Rooms are told apart by a 64-bit hash
/// of their name: two rooms whose hashes collide (about one chance in 2⁶⁴ per pair) share the
/// "previous message" of the check above, which can only make a check happen that was not needed.
#[derive(Debug)]
pub struct DedupIds {
    window: Duration,
    /// A notification's room and the digest of its bytes ([`count_key`]) → (times seen, last
    /// seen).
    counts: HashMap<u128, (u64, Instant)>,
    /// A room → the stream sequence of its last message this bridge had acked (stored by it or
    /// by another bridge), and when that was.
    rooms: HashMap<u64, RoomIds>,
    /// Hashes a room's name to its key in the maps: nothing is allocated per room.
    room_keys: DefaultHashBuilder,
    /// The stream's last sequence when the bridge connected: older messages were stored before
    /// this bridge could have published anything.
    floor: u64,
    last_prune: Option<Instant>,
}

#[derive(Debug)]
struct RoomIds {
    last_sequence: u64,
    last_seen: Instant,
}

/// What JetStream's answer to a publish means: [`DedupIds::acked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stored, or a duplicate of this very notification (another bridge stored it).
    Settled,
    /// A duplicate of a message stored before this bridge's previous one in the room: this very
    /// notification stored early by another bridge, or an earlier repetition named by a lagging
    /// count. The stored message's time tells them apart.
    Suspect,
}

/// The id of one message, with what [`DedupIds::acked`] needs to correct it.
#[derive(Clone)]
pub struct DedupId {
    /// The `Nats-Msg-Id`.
    pub id: String,
    /// Its room's key in [`DedupIds`]' maps.
    room: u64,
    digest: [u8; 32],
    /// The id's hash over the room's name, to which a recount adds the digest and the next count.
    named: Sha256,
}

impl PartialEq for DedupId {
    fn eq(&self, other: &Self) -> bool {
        (&self.id, self.room, self.digest) == (&other.id, other.room, other.digest)
    }
}

impl Eq for DedupId {}

impl std::fmt::Debug for DedupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DedupId")
            .field("id", &self.id)
            .field("room", &format_args!("{:016x}", self.room))
            .field("digest", &format_args!("{}", hex::encode(self.digest)))
            .finish()
    }
}

/// What tells a notification's messages apart: its room's key and the digest of its bytes.
pub(crate) type Key = (u64, [u8; 32]);

impl DedupId {
    /// Its notification's [`Key`].
    pub(crate) fn key(&self) -> Key {
        (self.room, self.digest)
    }

    /// The id of occurrence `occurrence` of the same notification.
    fn counted(&self, occurrence: u64) -> Self {
        let mut id = self.named.clone();
        id.update(self.digest);
        id.update(occurrence.to_be_bytes());
        Self {
            id: hex::encode(&id.finalize()[..16]),
            named: self.named.clone(),
            ..*self
        }
    }
}

/// The key of a room's notification in the counts: its room's key folded into half its digest.
/// Small keys keep the counts of a burst of new notifications compact; two of them collide about
/// once in 2¹²⁸ pairs (a count would then be shared: an extra check, or a repetition stored once
/// more, never a loss).
fn count_key(room: u64, digest: &[u8; 32]) -> u128 {
    let mut half = [0; 16];
    half.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(half) ^ u128::from(room)
}

impl DedupIds {
    /// Ids for a stream whose duplicate window is `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            counts: HashMap::new(),
            rooms: HashMap::new(),
            room_keys: DefaultHashBuilder::default(),
            floor: 0,
            last_prune: None,
        }
    }

    /// The stream's last sequence as the bridge connected (see [`DedupIds::acked`]).
    pub fn start_at(&mut self, sequence: u64) {
        self.floor = self.floor.max(sequence);
    }

    /// This bridge heard nothing from the server until the stream's `sequence`: its gap marker
    /// (its connection was down) is stored there, or the stream ended there when its connection
    /// first came up. What other bridges stored until then this bridge may have missed, so its
    /// counts may lag behind any of it: a duplicate naming a message up to `sequence` is
    /// [`Verdict::Suspect`] in every room, as it is before [`DedupIds::start_at`].
    pub fn gap_at(&mut self, sequence: u64) {
        self.floor = self.floor.max(sequence);
        for ids in self.rooms.values_mut() {
            ids.last_sequence = ids.last_sequence.max(sequence);
        }
    }

    /// The stream was created anew (deleted by an operator, or lost with the server's store): its
    /// sequences start again, so those remembered from the old one mean nothing.
    pub(crate) fn stream_recreated(&mut self, last: u64) {
        self.floor = last;
        for ids in self.rooms.values_mut() {
            ids.last_sequence = 0;
        }
    }

    /// The [`Key`] of a notification of `room` whose bytes are `body`.
    pub(crate) fn key_of(&self, room: &str, body: &[u8]) -> Key {
        (self.room_key(room), Sha256::digest(body).into())
    }

    /// A room's key in the maps (`room` as its subject token, or a room id: either names it).
    pub(crate) fn room_key(&self, room: &str) -> u64 {
        self.room_keys.hash_one(room)
    }

    /// The id of the next notification of `room` (its subject token), whose bytes are `body`.
    ///
    /// Nothing is forgotten before JetStream has forgotten it: a count is dropped only once it has
    /// been idle for one and a half duplicate windows.
    pub fn next(&mut self, room: &str, body: &[u8]) -> DedupId {
        self.next_at(room, body, Instant::now())
    }

    /// [`DedupIds::next`] for a notification that arrived at `now`, taken later (in arrival
    /// order): counted and forgotten exactly as if it had been taken when it arrived.
    pub(crate) fn next_at(&mut self, room: &str, body: &[u8], now: Instant) -> DedupId {
        let keep = self.window + self.window / 2;
        if self
            .last_prune
            .is_none_or(|at| now.duration_since(at) > self.window / 2)
        {
            self.counts
                .retain(|_, (_, last)| now.duration_since(*last) <= keep);
            self.rooms
                .retain(|_, ids| now.duration_since(ids.last_seen) <= keep);
            self.last_prune = Some(now);
        }
        let (key, digest) = self.key_of(room, body);
        let entry = self
            .counts
            .entry(count_key(key, &digest))
            .or_insert((0, now));
        let occurrence = entry.0;
        *entry = (occurrence + 1, now);
        let mut named = Sha256::new();
        named.update(room.as_bytes());
        named.update([0]);
        let id = DedupId {
            id: String::new(),
            room: key,
            digest,
            named,
        };
        id.counted(occurrence)
    }

    /// Takes JetStream's answer to a publish: the message's `sequence` (for a duplicate, the
    /// original's). A duplicate of a message older than this room's previous acked message (or
    /// than the stream's end when this bridge connected) is [`Verdict::Suspect`]: maybe an
    /// earlier repetition this bridge missed, named by a lagging count. The bridge then looks at
    /// when that message was stored and calls [`DedupIds::recount`] or [`DedupIds::settle`].
    pub fn acked(&mut self, id: &DedupId, sequence: u64, duplicate: bool) -> Verdict {
        let ids = self.room(id.room);
        if duplicate && sequence <= ids.last_sequence {
            return Verdict::Suspect;
        }
        ids.last_sequence = ids.last_sequence.max(sequence);
        Verdict::Settled
    }

    /// A suspect duplicate was a lagging count: counts one more and answers the id to publish
    /// again.
    pub fn recount(&mut self, id: &DedupId) -> DedupId {
        let now = Instant::now();
        let entry = self
            .counts
            .entry(count_key(id.room, &id.digest))
            .or_insert((0, now));
        let occurrence = entry.0;
        *entry = (occurrence + 1, now);
        id.counted(occurrence)
    }

    /// A suspect duplicate was this very notification after all (another bridge stored it).
    pub fn settle(&mut self, id: &DedupId, sequence: u64) {
        let ids = self.room(id.room);
        ids.last_sequence = ids.last_sequence.max(sequence);
    }

    /// The state of the room whose key is `key`, made on its first answer, marked seen now.
    fn room(&mut self, key: u64) -> &mut RoomIds {
        let floor = self.floor;
        let now = Instant::now();
        let ids = self.rooms.entry(key).or_insert(RoomIds {
            last_sequence: floor,
            last_seen: now,
        });
        ids.last_seen = now;
        ids
    }

    /// How many rooms it remembers.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bridge_never_repeats_an_id_and_two_bridges_agree() {
        let window = Duration::from_secs(120);
        let (mut a, mut b) = (DedupIds::new(window), DedupIds::new(window));
        // A voice-activity flip-flop: the same two bodies over and over.
        let bodies: Vec<&[u8]> = (0..50)
            .map(|i| {
                if i % 2 == 0 {
                    &b"speech"[..]
                } else {
                    b"silence"
                }
            })
            .collect();
        let ids_a: Vec<String> = bodies.iter().map(|body| a.next("room", body).id).collect();
        let ids_b: Vec<String> = bodies.iter().map(|body| b.next("room", body).id).collect();
        assert_eq!(ids_a, ids_b, "two bridges that saw the same agree");
        let unique: std::collections::HashSet<&String> = ids_a.iter().collect();
        assert_eq!(unique.len(), ids_a.len(), "one bridge never repeats an id");
        assert_ne!(
            DedupIds::new(window).next("x", b"n").id,
            DedupIds::new(window).next("y", b"n").id,
            "rooms do not share ids"
        );
    }

    /// Bridges of different versions on one stream must agree: the id is the first 16 bytes, in
    /// hex, of SHA-256(room, 0, SHA-256(bytes), occurrence as 8 big-endian bytes), whether made
    /// by `next` or by `recount`.
    #[test]
    fn ids_are_made_by_the_documented_formula() {
        let formula = |room: &str, body: &[u8], occurrence: u64| {
            let mut id = Sha256::new();
            id.update(room.as_bytes());
            id.update([0]);
            id.update(Sha256::digest(body));
            id.update(occurrence.to_be_bytes());
            hex::encode(&id.finalize()[..16])
        };
        let mut ids = DedupIds::new(Duration::from_secs(120));
        let first = ids.next("room-1", b"speech");
        assert_eq!(first.id, formula("room-1", b"speech", 0));
        assert_eq!(
            ids.next("room-1", b"speech").id,
            formula("room-1", b"speech", 1)
        );
        assert_eq!(
            ids.next("room-2", b"speech").id,
            formula("room-2", b"speech", 0)
        );
        assert_eq!(ids.recount(&first).id, formula("room-1", b"speech", 2));
    }

    #[test]
    fn a_room_id_used_again_gets_new_ids() {
        let mut ids = DedupIds::new(Duration::from_secs(120));
        let round: [&[u8]; 3] = [b"room_created r", b"peer_added r p", b"room_deleted r"];
        let first: Vec<String> = round.iter().map(|b| ids.next("r", b).id).collect();
        let second: Vec<String> = round.iter().map(|b| ids.next("r", b).id).collect();
        assert!(
            first.iter().all(|id| !second.contains(id)),
            "{first:?} {second:?}"
        );
    }

    /// JetStream's de-duplication, for the tests: an id stored once; a duplicate answers the
    /// original's sequence.
    #[derive(Default)]
    struct Store {
        ids: HashMap<String, u64>,
        messages: Vec<String>,
    }

    impl Store {
        fn publish(&mut self, id: &str, what: &str) -> (u64, bool) {
            if let Some(sequence) = self.ids.get(id) {
                return (*sequence, true);
            }
            self.messages.push(what.to_owned());
            let sequence = self.messages.len() as u64;
            self.ids.insert(id.to_owned(), sequence);
            (sequence, false)
        }

        /// Publishes until stored or a true duplicate, as the bridge does.
        fn bridge(&mut self, ids: &mut DedupIds, room: &str, what: &str) {
            let mut id = ids.next(room, what.as_bytes());
            loop {
                let (sequence, duplicate) = self.publish(&id.id, what);
                // The scenario's suspects are all earlier repetitions (the bridge tells them
                // apart by the stored message's time).
                match ids.acked(&id, sequence, duplicate) {
                    Verdict::Suspect => id = ids.recount(&id),
                    Verdict::Settled => return,
                }
            }
        }
    }

    /// B misses one "speech" (a gap), so its count lags; after A dies, B's next "speech" first
    /// names A's earlier one, JetStream answers with that older sequence, and B publishes again
    /// under the next count: stored, not lost. And unique notifications agree across the gap.
    #[test]
    fn a_lagging_count_is_corrected_by_the_streams_answer() {
        let window = Duration::from_secs(120);
        let (mut a, mut b) = (DedupIds::new(window), DedupIds::new(window));
        let mut store = Store::default();
        store.bridge(&mut a, "r", "joined");
        store.bridge(&mut b, "r", "joined");
        store.bridge(&mut a, "r", "speech"); // B is in a gap
        store.bridge(&mut a, "r", "left");
        store.bridge(&mut b, "r", "left");
        assert_eq!(store.messages, ["joined", "speech", "left"], "each once");
        // A dies; the next "speech" reaches B alone.
        store.bridge(&mut b, "r", "speech");
        assert_eq!(
            store.messages,
            ["joined", "speech", "left", "speech"],
            "not lost"
        );
    }

    /// B misses a "speech" in a gap and hears nothing in the room after it before A dies: B's
    /// next "speech" names A's, stored after everything B had heard of the room. Only B's gap
    /// marker tells it that its counts may lag behind that message.
    #[test]
    fn a_count_that_lagged_through_a_gap_is_corrected_with_nothing_heard_after_it() {
        let window = Duration::from_secs(120);
        let (mut a, mut b) = (DedupIds::new(window), DedupIds::new(window));
        let mut store = Store::default();
        store.bridge(&mut a, "r", "joined");
        store.bridge(&mut b, "r", "joined");
        store.bridge(&mut a, "r", "speech"); // B is in a gap
        let (marker, _) = store.publish("gap-b-1", "gap");
        b.gap_at(marker);
        // A dies; the next "speech" reaches B alone.
        store.bridge(&mut b, "r", "speech");
        assert_eq!(
            store.messages,
            ["joined", "speech", "gap", "speech"],
            "not lost"
        );
        // A room B never heard of before its gap is checked the same way.
        store.bridge(&mut a, "q", "joined");
        let (marker, _) = store.publish("gap-b-2", "gap");
        b.gap_at(marker);
        store.bridge(&mut b, "q", "joined");
        assert_eq!(store.messages.iter().filter(|m| *m == "joined").count(), 3);
    }
}
