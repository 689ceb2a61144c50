//! `Serialize` and `Deserialize` for the maps of `gomap::sync` (the `serde` feature): each
//! writes a serde map with an exact length, reads what the others write, and a
//! `ShardedMap` serialized while threads write to it gives one snapshot.
#![cfg(feature = "serde")]

mod common;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use common::scale;
use gomap::sync::{CheckedMap, CowMap, ShardedMap, SyncMap};
use gomap::GoMap;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::fmt;

fn entries() -> HashMap<u32, String> {
    (0..scale(2000, 50) as u32).map(|i| (i, format!("v{i}"))).collect()
}

/// What a map (not changing meanwhile) serializes to, read back as a std map, through two
/// formats: JSON, and postcard, which writes the length a map announces before its entries
/// and refuses a map that announces none (so a length that is not the number of entries
/// written shows up as a failure to read back, or as entries lost or invented).
fn written<V: DeserializeOwned + PartialEq + fmt::Debug>(map: &impl Serialize) -> HashMap<u32, V> {
    let json: HashMap<u32, V> = serde_json::from_str(&serde_json::to_string(map).unwrap()).unwrap();
    let bytes = postcard::to_allocvec(map).expect("postcard needs the map's length up front");
    let compact: HashMap<u32, V> = postcard::from_bytes(&bytes).expect("the announced length is the entries'");
    assert_eq!(json, compact);
    json
}

#[test]
fn every_map_round_trips_and_reads_the_others() {
    let model = entries();
    let json = serde_json::to_string(&model).unwrap();
    let sharded: ShardedMap<u32, String> = serde_json::from_str(&json).unwrap();
    let sync: SyncMap<u32, String> = serde_json::from_str(&json).unwrap();
    let cow: CowMap<u32, String> = serde_json::from_str(&json).unwrap();
    let checked: CheckedMap<u32, String> = serde_json::from_str(&json).unwrap();
    assert_eq!(written(&sharded), model);
    assert_eq!(written(&sync), model);
    assert_eq!(written(&cow), model);
    assert_eq!(written(&checked), model);
    // One map's output is another's input.
    let again: ShardedMap<u32, String> = serde_json::from_str(&serde_json::to_string(&sync).unwrap()).unwrap();
    assert_eq!(again.len(), model.len());
    assert_eq!(again.get(&7), model.get(&7).cloned());
    let gomap: GoMap<u32, String> = serde_json::from_str(&serde_json::to_string(&checked).unwrap()).unwrap();
    assert_eq!(gomap.len(), model.len());
}

/// While two threads move pairs of keys in one `ShardedMap` (each move deletes one key
/// and inserts its partner, in two shards), every serialization sees an exact length, and
/// sees each pair as a whole snapshot does: a move inserts the partner before it removes the
/// key, so a snapshot never misses both (a shard-by-shard walk could).
#[test]
fn a_sharded_map_serializes_one_snapshot() {
    let pairs = scale(500, 20) as u32;
    let map: ShardedMap<u32, u32> = ShardedMap::with_shards(16);
    for p in 0..pairs {
        map.insert(2 * p, p);
    }
    let done = AtomicBool::new(false);
    let snapshots = std::thread::scope(|s| {
        for t in 0..2u32 {
            let (map, done) = (&map, &done);
            s.spawn(move || {
                let mut round = 0u32;
                while !done.load(Ordering::Relaxed) {
                    // Thread t moves the pairs p with p % 2 == t, so no pair has two movers.
                    for p in (t..pairs).step_by(2) {
                        let (from, to) = if round % 2 == 0 { (2 * p, 2 * p + 1) } else { (2 * p + 1, 2 * p) };
                        // A writer holds one shard at a time: the snapshot may fall between
                        // the two writes, so insert first and remove after.
                        map.insert(to, p);
                        map.remove(&from);
                    }
                    round += 1;
                }
            });
        }
        // Serialize while the movers run; check after they stop (a failed check inside
        // the scope would leave them running).
        let snapshots: Vec<_> = (0..scale(50, 3)).map(|_| serialized_pairs(&map)).collect();
        done.store(true, Ordering::Relaxed);
        snapshots
    });
    for seen in snapshots {
        let seen = seen.expect("a snapshot round-trips");
        for p in 0..pairs {
            assert!(
                seen.contains_key(&(2 * p)) || seen.contains_key(&(2 * p + 1)),
                "pair {p} vanished from a snapshot"
            );
        }
    }
}

/// One serialization of `map` in postcard (which writes the announced length first), read
/// back; a failure is returned instead of raised.
fn serialized_pairs(map: &ShardedMap<u32, u32>) -> Result<HashMap<u32, u32>, postcard::Error> {
    postcard::to_allocvec(map).and_then(|bytes| postcard::from_bytes(&bytes))
}

/// A value whose `Serialize` reads the map being serialized.
struct Nosy;

static NOSY_MAP: OnceLock<ShardedMap<u32, Nosy>> = OnceLock::new();

impl Serialize for Nosy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = NOSY_MAP.get().map_or(0, |map| map.len());
        serializer.serialize_u64(len as u64)
    }
}

#[test]
fn a_sharded_maps_serialize_cannot_deadlock_on_itself() {
    let map = NOSY_MAP.get_or_init(|| {
        let map = ShardedMap::new();
        map.insert(1, Nosy);
        map
    });
    let result = catch_unwind(AssertUnwindSafe(|| serde_json::to_string(map)));
    let payload = result.expect_err("re-entrant use must panic");
    let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
    assert!(message.is_some_and(|m| m.contains("would deadlock")), "{message:?}");
    // The locks were let go of: the map works on.
    assert_eq!(map.len(), 1);
}
