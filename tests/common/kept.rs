//! An actor that keeps every message of one type it is sent (a component's events), for a test
//! to look at.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use actix::prelude::*;

/// Keeps every `E` it handles; clones share what was kept.
pub struct Kept<E>(Arc<Mutex<Vec<E>>>);

impl<E> Clone for Kept<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E> Default for Kept<E> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<E: Unpin + 'static> Actor for Kept<E> {
    type Context = Context<Self>;
}

impl<E> Handler<E> for Kept<E>
where
    E: Message<Result = ()> + Unpin + 'static,
{
    type Result = ();
    fn handle(&mut self, event: E, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(event);
    }
}

impl<E: Clone> Kept<E> {
    /// What was kept so far.
    pub fn all(&self) -> Vec<E> {
        self.0.lock().unwrap().clone()
    }

    /// Whether anything kept so far matches.
    pub fn any(&self, matches: impl Fn(&E) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(matches)
    }
}
