//! Concurrent maps built on [`GoMap`](crate::GoMap): Go's four ways of sharing a map between
//! threads, as Rust types that cannot be misused silently.
//!
//! | Go idiom | gomap | Rust peers |
//! |---|---|---|
//! | `sync.Map` | [`SyncMap`] | — |
//! | `map` + `sync.RWMutex`, striped by hand | [`ShardedMap`] | dashmap, `RwLock<HashMap>` |
//! | `atomic.Value` holding a map, copied on write (`DeepCopyMap`) | [`CowMap`] | arc-swap + `HashMap`, im |
//! | a plain `map` shared by mistake, caught by `fatal error: concurrent map writes` | [`CheckedMap`] | — |
//! | one goroutine owns the map, others send it requests on a channel | `examples/actor.rs` | — |
//!
//! # Which one
//!
//! * **[`ShardedMap`]**: the default. Any mix of reads and writes, any key distribution.
//!   Every operation locks one shard (a read lock for reads); the key is hashed once for
//!   both the shard and the bucket; shards grow incrementally like any `GoMap`, so no
//!   insert waits for a whole rehash.
//! * **[`SyncMap`]**: Go's `sync.Map`, for its two cases: keys written once and then read
//!   very often (a cache that only grows), or threads working on disjoint keys. Reads and
//!   updates of keys already promoted to its read-only map take no lock at all, nor do most
//!   reads of absent keys (a filter of new keys rules them out, which Go cannot). Adding keys
//!   is slower, and every promotion cycle copies the map once (O(n), made a few entries at a
//!   time by the lookups that miss the read-only map, where Go makes one store wait for all
//!   of it).
//! * **[`CowMap`]**: data read constantly and changed rarely, such as configuration or
//!   routing tables. A read loads an immutable snapshot without waiting; a write copies the
//!   whole map (batch writes with [`CowMap::update`]). A `get` never pays to free a
//!   snapshot, even one a write replaced while the `get` was reading it, and neither does
//!   dropping a snapshot from [`CowMap::load`]: the writers, or the reads that follow a few
//!   entries at a time, let go of replaced snapshots.
//! * **[`CheckedMap`]**: not a synchronised map but a detector, for code ported from Go that
//!   shares a map it should not. It never blocks: a conflicting access panics with Go's
//!   message (`"concurrent map writes"`, `"concurrent map read and map write"`,
//!   `"concurrent map iteration and map write"`).
//!
//! | | reads | writes | insert of a new key | iteration |
//! |---|---|---|---|---|
//! | [`ShardedMap`] | shard read lock | shard write lock | shard write lock | snapshot per shard |
//! | [`SyncMap`] | lock-free (promoted keys, most absent keys) | lock-free CAS (promoted keys) | mutex (a miss: also a step of the O(n) copy per promotion) | lock-free, no lock held in the callback |
//! | [`CowMap`] | wait-free snapshot | copy O(n) | copy O(n) | any snapshot |
//! | [`CheckedMap`] | never waits | never waits | never waits | never waits |
//!
//! # Go ↔ gomap
//!
//! | Go | gomap |
//! |---|---|
//! | `var m sync.Map` | `let m = SyncMap::new();` |
//! | `m.Store(k, v)` | `m.store(k, v)` |
//! | `v, ok := m.Load(k)` | `let v: Option<V> = m.load(&k);` |
//! | `v, loaded := m.LoadOrStore(k, v)` | `let (v, loaded) = m.load_or_store(k, v);` |
//! | `v, ok := m.LoadAndDelete(k)` / `m.Delete(k)` | `m.load_and_delete(&k)` / `m.delete(&k)` |
//! | `m.Swap`, `m.CompareAndSwap`, `m.CompareAndDelete` (Go 1.20) | `swap`, `compare_and_swap`, `compare_and_delete` |
//! | `m.Range(func(k, v any) bool {…})` | `m.range(\|k, v\| …)` |
//! | no `Len` (golang/go#20680), `Clear` (Go 1.23) | `m.len()`, `m.clear()` |
//! | `mu.RLock(); v, ok := m[k]; mu.RUnlock()` | `sharded.get(&k)` |
//! | `mu.Lock(); m[k] = v; mu.Unlock()` | `sharded.insert(k, v)` |
//! | `mu.Lock(); m[k] += 1; mu.Unlock()` | `sharded.upsert(k, \|\| 1, \|v\| *v += 1)` |
//! | `p := av.Load().(map[K]V)` | `let snapshot = cow.load();` |
//! | copy, modify, `av.Store(copy)` under a writer mutex | `cow.update(\|m\| { … })` |
//!
//! # Re-entrancy and deadlocks
//!
//! No method returns a lock guard. The few that run a closure under a lock
//! ([`ShardedMap::get_with`], [`ShardedMap::update`], [`ShardedMap::upsert`],
//! [`ShardedMap::retain`], [`CowMap::update`]) remember it in a thread-local list, and a
//! call on the same map from inside the closure panics with a message saying so, where
//! dashmap would deadlock (xacrimon/dashmap#74). [`SyncMap::range`] holds no lock while its
//! callback runs: the callback may use the map freely, as in Go. Closures that use two
//! *different* maps in opposite orders on two threads can still deadlock, as with any two
//! locks.
//!
//! # Memory without a garbage collector
//!
//! [`SyncMap`] and [`CowMap`] replace whole maps (a promotion publishes a new read-only map,
//! a write a new snapshot), and Go leaves the old ones to its garbage collector. Here they
//! are reference-counted, and freeing one is O(n), so who frees it matters. Neither map lets
//! a reader do it: the map keeps its own reference to every replaced map that something
//! still holds, and that reference is always the last. Once the holders are done, the
//! operations that follow take the map apart a few entries at a time (each when the map's
//! mutex is free), and a [`CowMap`] write frees at once what nothing holds (it pays O(n)
//! for its copy anyway). So a `load` or `get` never pauses to free a map; the price is that
//! a replaced map can stay allocated until later operations reach it (on a map that is
//! neither read nor written again, until the map is dropped).
//!
//! # Checking
//!
//! The protocols are model-checked with [loom](https://docs.rs/loom): SyncMap's promotion
//! and expunging, CowMap's publication and letting go of replaced snapshots, CheckedMap's
//! detection and ShardedMap's locking.
//! Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gomap --release --lib sync::
//! ```
//!
//! Under `cfg(loom)` the primitives come from loom (see the `shim` module); `arc-swap` has
//! no loom model, so an `ArcSwap` is modelled by an `Arc` behind a mutex, which has the
//! same atomic semantics.

mod checked;
mod cow;
mod new_keys;
mod retire;
mod sharded;
mod shim;
mod sync_map;

pub use checked::CheckedMap;
pub use cow::CowMap;
pub use sharded::{Iter, ShardedMap};
pub use sync_map::SyncMap;
