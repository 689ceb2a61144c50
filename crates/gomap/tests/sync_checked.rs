//! `gomap::sync::CheckedMap`: each kind of concurrent misuse is provoked deterministically
//! and panics with Go's message; overlapping reads are fine; the map works afterwards.
//!
//! An access is held open by a key whose `Hash` waits at a barrier (the map hashes the key
//! inside the access), or by a `range` callback that waits; the other thread makes its
//! conflicting call exactly then, and the first access is released afterwards.

use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use gomap::sync::CheckedMap;

/// A key whose first hashing, if armed, waits twice at `gate`: once to say "I am inside the
/// access", once to wait for the other thread's attempt.
#[derive(Clone)]
struct Key {
    id: u32,
    armed: Option<Arc<(AtomicBool, Barrier)>>,
}

impl Key {
    fn plain(id: u32) -> Key {
        Key { id, armed: None }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.id == other.id
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if let Some(gate) = &self.armed {
            if gate.0.swap(false, Ordering::SeqCst) {
                gate.1.wait();
                gate.1.wait();
            }
        }
        self.id.hash(state);
    }
}

fn message(result: std::thread::Result<()>) -> Option<&'static str> {
    result.err().map(|payload| *payload.downcast::<&'static str>().expect("a &'static str payload"))
}

/// Runs `holder` (which must reach `gate` twice, through an armed key or by hand) on one
/// thread, and `intruder` on this one while `holder` is inside its access; returns the
/// intruder's panic message, if any.
fn overlap(
    map: &CheckedMap<Key, u32>,
    holder: impl FnOnce(&CheckedMap<Key, u32>, Key) + Send,
    intruder: impl FnOnce(&CheckedMap<Key, u32>),
) -> Option<&'static str> {
    let gate = Arc::new((AtomicBool::new(true), Barrier::new(2)));
    let key = Key { id: 7, armed: Some(Arc::clone(&gate)) };
    std::thread::scope(|s| {
        let holding = s.spawn(|| holder(map, key));
        gate.1.wait(); // the holder is inside its access
        let result = catch_unwind(AssertUnwindSafe(|| intruder(map)));
        gate.1.wait(); // let it finish
        holding.join().expect("the first access completes normally");
        message(result)
    })
}

fn insert_held(map: &CheckedMap<Key, u32>, key: Key) {
    map.insert(key, 70);
}

fn get_held(map: &CheckedMap<Key, u32>, key: Key) {
    map.get(&key);
}

fn remove_held(map: &CheckedMap<Key, u32>, key: Key) {
    map.remove(&key);
}

/// A range whose callback waits at the key's gate on its first entry.
fn range_held(map: &CheckedMap<Key, u32>, key: Key) {
    let gate = key.armed.unwrap();
    map.range(|_, _| {
        if gate.0.swap(false, Ordering::SeqCst) {
            gate.1.wait();
            gate.1.wait();
        }
        true
    });
}

fn fresh() -> CheckedMap<Key, u32> {
    let map = CheckedMap::new();
    map.insert(Key::plain(1), 10);
    map
}

fn check_usable(map: &CheckedMap<Key, u32>) {
    assert_eq!(map.insert(Key::plain(2), 20), None);
    assert_eq!(map.get(&Key::plain(2)), Some(20));
    assert_eq!(map.remove(&Key::plain(2)), Some(20));
    let mut n = 0;
    map.range(|_, _| {
        n += 1;
        true
    });
    assert_eq!(n, map.len());
}

const WRITES: Option<&str> = Some("concurrent map writes");
const READ_WRITE: Option<&str> = Some("concurrent map read and map write");
const ITERATION_WRITE: Option<&str> = Some("concurrent map iteration and map write");

#[test]
fn two_writers() {
    let map = fresh();
    assert_eq!(
        overlap(&map, insert_held, |m| {
            let _ = m.insert(Key::plain(3), 3);
        }),
        WRITES
    );
    assert_eq!(
        overlap(&map, insert_held, |m| {
            let _ = m.remove(&Key::plain(1));
        }),
        WRITES
    );
    assert_eq!(
        overlap(&map, remove_held, |m| {
            let _ = m.insert(Key::plain(3), 3);
        }),
        WRITES
    );
    assert_eq!(overlap(&map, insert_held, |m| m.clear()), WRITES);
    check_usable(&map);
    assert_eq!(map.get(&Key::plain(3)), None, "the refused insert happened");
    assert_eq!(map.get(&Key::plain(1)), Some(10), "the refused remove happened");
}

#[test]
fn reader_meets_writer() {
    let map = fresh();
    assert_eq!(
        overlap(&map, insert_held, |m| {
            let _ = m.get(&Key::plain(1));
        }),
        READ_WRITE
    );
    assert_eq!(
        overlap(&map, insert_held, |m| {
            let _ = m.contains_key(&Key::plain(1));
        }),
        READ_WRITE
    );
    check_usable(&map);
}

#[test]
fn writer_meets_reader() {
    let map = fresh();
    assert_eq!(
        overlap(&map, get_held, |m| {
            let _ = m.insert(Key::plain(3), 3);
        }),
        READ_WRITE
    );
    assert_eq!(
        overlap(&map, get_held, |m| {
            let _ = m.remove(&Key::plain(1));
        }),
        READ_WRITE
    );
    check_usable(&map);
}

#[test]
fn iteration_meets_writer() {
    let map = fresh();
    assert_eq!(
        overlap(&map, range_held, |m| {
            let _ = m.insert(Key::plain(3), 3);
        }),
        ITERATION_WRITE
    );
    assert_eq!(overlap(&map, insert_held, |m| m.range(|_, _| true)), ITERATION_WRITE);
    check_usable(&map);
}

#[test]
fn readers_and_ranges_overlap_freely() {
    let map = fresh();
    assert_eq!(overlap(&map, get_held, |m| assert_eq!(m.get(&Key::plain(1)), Some(10))), None);
    assert_eq!(overlap(&map, range_held, |m| assert_eq!(m.get(&Key::plain(1)), Some(10))), None);
    assert_eq!(overlap(&map, range_held, |m| m.range(|_, _| true)), None);
    // len never conflicts, as in Go.
    assert_eq!(overlap(&map, insert_held, |m| assert!(m.len() <= 2)), None);
    check_usable(&map);
}

/// Unlike Go, a range callback must not write to the map it ranges over.
#[test]
fn write_inside_range_panics() {
    let map = fresh();
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.range(|_, _| {
            map.insert(Key::plain(5), 5);
            true
        })
    }));
    assert_eq!(message(result), ITERATION_WRITE);
    // Reads inside a range are fine.
    map.range(|k, &v| {
        assert_eq!(map.get(k), Some(v));
        true
    });
    check_usable(&map);
}

/// A stress test of the detector: threads that write at random either succeed or get one
/// of Go's messages, never anything else, and the map stays consistent.
#[test]
fn racing_writers_get_go_messages_only() {
    let map = CheckedMap::new();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let map = &map;
            s.spawn(move || {
                for i in 0..if cfg!(miri) { 20 } else { 5000 } {
                    let key = Key::plain(t * 100_000 + i % 50);
                    let result = catch_unwind(AssertUnwindSafe(|| match i % 3 {
                        0 => {
                            let _ = map.insert(key, i);
                        }
                        1 => {
                            let _ = map.get(&key);
                        }
                        _ => {
                            let _ = map.remove(&key);
                        }
                    }));
                    if let Some(m) = message(result) {
                        assert!(WRITES == Some(m) || READ_WRITE == Some(m), "unexpected message {m}");
                    }
                }
            });
        }
    });
    let mut n = 0;
    map.range(|_, _| {
        n += 1;
        true
    });
    assert_eq!(n, map.len());
}

/// A map collected from pairs holds each key's last value; `extend` inserts through the
/// detector, so an extend that meets a write in progress gets Go's message.
#[test]
fn collect_and_extend() {
    let map: CheckedMap<Key, u32> =
        [(1, 10), (4, 40), (1, 11)].map(|(id, v)| (Key::plain(id), v)).into_iter().collect();
    assert_eq!(map.len(), 2);
    assert_eq!(map.get(&Key::plain(1)), Some(11));
    let intruder = |map: &CheckedMap<Key, u32>| {
        let mut map = map;
        map.extend([(Key::plain(3), 30)]);
    };
    assert_eq!(overlap(&map, insert_held, intruder), WRITES);
    check_usable(&map);
    intruder(&map);
    assert_eq!(map.get(&Key::plain(3)), Some(30));
}
