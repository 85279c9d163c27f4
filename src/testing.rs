//! Values for tests of code that handles notifications: one notification of every kind, derived
//! from the same table as [`Notification`] itself, so a test that walks them all keeps covering
//! every kind as the crate learns new ones.
//!
//! ```
//! use jellyfish_notifier::{Notification, testing};
//!
//! let all = testing::every_kind(["room-1", "peer-1", "track-1", "null"], 1);
//! assert_eq!(all.len(), Notification::KINDS.len());
//! for notification in &all {
//!     let bytes = notification.encode().unwrap();
//!     assert_eq!(&jellyfish_notifier::receive_binary(&bytes).unwrap()[0], notification);
//! }
//! ```

use crate::notification::*;
use std::cell::Cell;

/// One notification of every kind this version knows, in field-number order. Ids and texts are
/// taken from `texts` in turn; every enum field carries the wire value `number` (so an unknown
/// value is one call away); optional tracks and endpoints alternate between the possible shapes
/// (a peer, a component, neither).
pub fn every_kind(texts: [&str; 4], number: i32) -> Vec<Notification> {
    let seed = Seed {
        texts,
        number,
        turn: Cell::new(0),
    };
    with_kinds!(samples_of);
    samples_of(&seed)
}

struct Seed<'a> {
    texts: [&'a str; 4],
    number: i32,
    turn: Cell<usize>,
}

impl Seed<'_> {
    fn next(&self) -> usize {
        let turn = self.turn.get();
        self.turn.set(turn + 1);
        turn
    }

    fn text(&self) -> &str {
        self.texts[self.next() % self.texts.len()]
    }
}

/// How a sample field value is made from the seed (`W` tells the blanket impls apart, as in the
/// codec's `Wire`).
trait Sample<W> {
    fn sample(seed: &Seed<'_>) -> Self;
}

/// Every text field (ids, metadata, free text) takes the next text.
impl<T: TextField> Sample<String> for T {
    fn sample(seed: &Seed<'_>) -> Self {
        T::from(seed.text().to_owned())
    }
}

/// Every enum field carries the seed's number.
impl<T: NumberField> Sample<i32> for T {
    fn sample(seed: &Seed<'_>) -> Self {
        T::from_wire(seed.number)
    }
}

impl Sample<()> for Track {
    fn sample(seed: &Seed<'_>) -> Self {
        Track::new(seed.text(), TrackType::from_i32(seed.number), seed.text())
    }
}

impl Sample<()> for Option<Track> {
    fn sample(seed: &Seed<'_>) -> Self {
        seed.next().is_multiple_of(2).then(|| Track::sample(seed))
    }
}

impl Sample<()> for Option<Endpoint> {
    fn sample(seed: &Seed<'_>) -> Self {
        match seed.next() % 3 {
            0 => Some(Endpoint::Peer(seed.text().into())),
            1 => Some(Endpoint::Component(seed.text().into())),
            _ => None,
        }
    }
}

/// Builds `fn samples_of(seed) -> Vec<Notification>` from the table.
macro_rules! samples_of {
    ($(
        $(#[$doc:meta])*
        $number:literal $name:literal $variant:ident since $since:ident $(endpoint $module:ident)?
        { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ];
    )*) => {
        fn samples_of(seed: &Seed<'_>) -> Vec<Notification> {
            vec![$({
                #[allow(clippy::needless_update, unused_mut)]
                let mut payload = $variant {
                    $($field: Sample::sample(seed),)*
                    $($xfield: Sample::sample(seed),)*
                    ..Default::default()
                };
                $(
                    let _proto_module = stringify!($module);
                    payload.endpoint = Sample::sample(seed);
                )?
                Notification::from(payload)
            }),*]
        }
    };
}
use samples_of;
