//! Replaced maps on their way out, for [`SyncMap`](super::SyncMap) (its replaced read-only
//! maps) and [`CowMap`](super::CowMap) (its replaced snapshots): freed without a garbage
//! collector, and never by a reader.
//!
//! A replaced map is reference-counted, and freeing it is O(n). Whoever lets go last frees
//! it, so a reader that was still looking into a map when it was replaced would free it
//! inside a `load` or a `get`. [`Replaced`] keeps the owning map's own reference to every
//! replaced map that something else still holds ([`Replaced::held`]), and that reference
//! is always the last. Once nothing else holds one, it is taken apart a few entries at a
//! time ([`Replaced::step`], by operations that find the owner's mutex free), one map at a
//! time, or handed to a caller that pays O(n) anyway ([`Replaced::take_unheld`]).
//!
//! Only a holder can clone a replaced map, so a map seen with no other holder has none for
//! good. (Were a count misread, freeing would still be sound: `Arc` frees on the last drop.)

use crate::GoMap;

#[cfg(loom)]
use super::shim::Arc;
#[cfg(not(loom))]
use std::sync::Arc;

/// A replaced map's table, which its last holder takes apart.
pub(super) trait IntoTable<K, V, S> {
    fn into_table(self) -> GoMap<K, V, S>;
}

impl<K, V, S> IntoTable<K, V, S> for GoMap<K, V, S> {
    fn into_table(self) -> Self {
        self
    }
}

/// The replaced maps `T` (each with a table `GoMap<K, V, S>`) of one map, on their way out.
pub(super) struct Replaced<T, K, V, S> {
    /// Those that something else held when they came here, or that wait for the one being
    /// taken apart.
    pub(super) held: Vec<Arc<T>>,
    /// The one being taken apart, if any.
    pub(super) retiring: Option<Retiring<K, V, S>>,
}

/// A table being taken apart, and where that goes on (`GoMap::dismantle_some`).
pub(super) struct Retiring<K, V, S> {
    pub(super) m: GoMap<K, V, S>,
    next_chain: usize,
}

/// What the maps that [`Replaced::take_unheld`] takes out are: for the caller to drop, O(n),
/// after its lock.
pub(super) type Unheld<T, K, V, S> = (Vec<Arc<T>>, Option<Retiring<K, V, S>>);

/// What a [`Replaced::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Took some apart, or started on one that nothing else holds any more.
    Worked,
    /// Found every map still held by something else.
    AllHeld,
    /// Found nothing to do.
    Nothing,
}

impl<T: IntoTable<K, V, S>, K, V, S> Replaced<T, K, V, S> {
    pub(super) const fn new() -> Self {
        Replaced { held: Vec::new(), retiring: None }
    }

    /// Whether no replaced map waits.
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty() && self.retiring.is_none()
    }

    /// Keeps `replaced` until [`take_unheld`](Replaced::take_unheld) or a step finds that
    /// nothing else holds it.
    pub(super) fn hold(&mut self, replaced: Arc<T>) {
        self.held.push(replaced);
    }

    /// Keeps `replaced` to be taken apart in steps: from the next step if nothing else
    /// holds it and no other is being taken apart, else once its turn comes. Frees nothing.
    pub(super) fn keep(&mut self, replaced: Arc<T>) {
        if self.retiring.is_none() {
            self.start_or_hold(replaced);
        } else {
            self.held.push(replaced);
        }
    }

    /// With none being taken apart: starts on `map` if nothing else holds it, else keeps it.
    fn start_or_hold(&mut self, map: Arc<T>) {
        match Arc::try_unwrap(map) {
            Ok(map) => self.retiring = Some(Retiring { m: map.into_table(), next_chain: 0 }),
            Err(shared) => self.held.push(shared),
        }
    }

    /// Takes out every map that nothing else holds (and the one being taken apart), for a
    /// caller that pays O(n) anyway; those still held stay.
    pub(super) fn take_unheld(&mut self) -> Unheld<T, K, V, S> {
        let (unheld, held) = core::mem::take(&mut self.held).into_iter().partition(|m| Arc::strong_count(m) == 1);
        self.held = held;
        (unheld, self.retiring.take())
    }

    /// Takes the one being taken apart on by at least `min_entries` entries (whole chains),
    /// or else starts on a held one that nothing else holds any more.
    pub(super) fn step(&mut self, min_entries: usize) -> Step {
        if let Some(Retiring { m, next_chain }) = &mut self.retiring {
            if m.dismantle_some(next_chain, min_entries) {
                self.retiring = None;
            }
            return Step::Worked;
        }
        let Some(i) = self.held.iter().position(|m| Arc::strong_count(m) == 1) else {
            return if self.held.is_empty() { Step::Nothing } else { Step::AllHeld };
        };
        let map = self.held.swap_remove(i);
        self.start_or_hold(map);
        Step::Worked
    }
}
