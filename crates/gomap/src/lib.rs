//! Go's classic hash map, rebuilt in Rust.
//!
//! [`GoMap`] is the algorithm of Go 1.19's `runtime/map.go` behind the API of
//! [`std::collections::HashMap`]. If you know one of those, you know how to use it:
//!
//! ```
//! use gomap::GoMap;
//!
//! let mut stock = GoMap::new();
//! stock.insert("apples", 3);
//! stock.insert("pears", 0);
//! *stock.entry("apples").or_insert(0) += 2;
//! stock.retain(|_, &mut n| n > 0);
//! assert_eq!(stock.get("apples"), Some(&5));
//! assert_eq!(stock.len(), 1);
//! ```
//!
//! # Why another map
//!
//! **No insert pays for a whole rehash.** A `std` or hashbrown map that runs out of room
//! moves every entry into a bigger table inside one insert: on a map of ten million entries
//! that single insert takes a few hundred milliseconds. A `GoMap` grows the way Go's map
//! does: the insert that finds the map full only allocates the bigger bucket array (zeroed
//! memory from the system, so even that is O(1)), and the entries move over a few buckets at
//! a time on the writes that follow. Lookups during a growth read whichever array holds the
//! key. The worst insert stays in the microseconds.
//!
//! **Go's semantics, decision for decision.** Buckets of eight slots with one tophash byte
//! per slot, overflow chains, a load factor of 6.5, doubling and same-size growth with Go's
//! triggers, incremental evacuation with Go's evacuation mark, tombstones that collapse at
//! the end of a chain. For the same sequence of inserts of new keys, a `GoMap`'s bucket count
//! after every insert is Go's; [`GoMap::with_capacity`] sizes exactly like
//! `make(map[K]V, hint)`. Facts measured on Go 1.19 are kept as test fixtures.
//!
//! **You can look inside.** [`GoMap::stats`] reports what the Go runtime keeps to itself:
//! the bucket count, overflow buckets, whether a growth is running and how far it got,
//! tombstones, bytes held.
//!
//! ```
//! let mut map = gomap::GoMap::new();
//! for i in 0..1665u32 {
//!     map.insert(i, i); // the 1665th insert overfills 256 buckets
//! }
//! let stats = map.stats();
//! assert!(stats.growing);
//! assert_eq!((stats.b, stats.old_buckets), (9, 256));
//! ```
//!
//! **Growth on your schedule.** Go can only move entries when you write. A `GoMap` also
//! lets idle time do it: [`GoMap::evacuate_step`] moves a bounded number of buckets,
//! [`GoMap::finish_growth`] completes the growth.
//!
//! # Iterating like Go's `range`
//!
//! A Go `range` over a map starts at a random place, so no program comes to depend on an
//! order, and its body may insert into and delete from the map, even when that makes the
//! map grow. gomap has both:
//!
//! | Go | gomap |
//! |---|---|
//! | `for k, v := range m { ... }` (reading) | `for (k, v) in m.range() { ... }` ([`GoMap::range`]; [`GoMap::iter`] is the same walk in a fixed order) |
//! | `for k := range m { if cond(k) { delete(m, k) } }` | `m.retain(\|k, _\| !cond(k))`, or a cursor as below |
//! | `for k, v := range m { m[f(k)] = v; delete(m, g(k)) }` | `let mut c = m.cursor(); while let Some((k, v)) = c.next(&mut m) { ... }` ([`Cursor`]) |
//!
//! ```
//! use gomap::GoMap;
//!
//! let mut m: GoMap<u32, u32> = (0..1000).map(|k| (k, k)).collect();
//! let mut cursor = m.cursor();
//! while let Some((&k, v)) = cursor.next(&mut m) {
//!     *v *= 2;
//!     if k < 1000 && k % 10 == 0 {
//!         m.remove(&(k + 1)); // not produced later
//!         m.insert(k + 10_000, 0); // produced at most once (or not at all)
//!     }
//! }
//! assert_eq!(m.len(), 1000);
//! assert_eq!(m[&20], 40);
//! ```
//!
//! A [`Cursor`] holds no borrow of the map; the map goes into each step. Whatever happens
//! between steps (inserts, removes, updates, [`GoMap::clear`], growths of either kind,
//! [`GoMap::finish_growth`], [`GoMap::shrink_to_fit`]), it keeps Go's guarantees: an entry
//! present throughout is produced exactly once, with its value current at that moment; an
//! entry removed before the cursor reaches it is not produced; an entry inserted meanwhile
//! is produced at most once; a key removed and inserted again is a new entry. One difference from Go: Go stops
//! producing new entries once the map has grown during the loop, a cursor does not, so a
//! loop that inserts several new keys for every entry it visits runs for as long as it
//! keeps finding them ahead (each new key at most once).
//!
//! # How it works
//!
//! A map of `2^b` buckets sends a key to bucket `hash & (2^b - 1)`. Each bucket has eight
//! slots; its first word holds one *tophash* byte (the top byte of the hash) per slot, so a
//! lookup compares eight slots at once and looks at keys only on a match. A full bucket
//! links an overflow bucket. Deleting leaves a tombstone; a run of them at the end of a
//! chain is marked so that searches stop early.
//!
//! Inserting a new key into a map holding `6.5 × 2^b` entries (8 for one bucket) starts a
//! *doubling*; inserting when there are about as many overflow buckets as buckets starts a
//! *same-size growth*, which compacts chains full of tombstones. While a growth runs, every
//! insert or remove first *evacuates* two old buckets: the one it is about to use and the
//! lowest not yet moved. A growth from `2^b` buckets is over after about `0.69 × 2^b`
//! writes. Lookups never move anything. Maps never shrink by themselves, as in Go;
//! [`GoMap::clear`] keeps the buckets, and [`GoMap::shrink_to_fit`] gives memory back on
//! request (below).
//!
//! The unsafe core lives in one private module (`raw`), whose documentation is the design
//! essay and the list of invariants; [`GoMap::check_invariants`] verifies them all.
//!
//! # Differences from `std::collections::HashMap`
//!
//! * [`GoMap::capacity`] is exact: the entries that fit before the next doubling.
//! * [`GoMap::reserve`] on a map that must get bigger moves all entries at once (a bulk
//!   operation by contract); [`Extend`] reserves only on an empty map, so extending a big
//!   map keeps the bounded-latency growth.
//! * [`GoMap::try_reserve`] returns gomap's own [`TryReserveError`] (std's cannot be
//!   built outside std), and reports a refused bucket array; the small overflow-bucket
//!   slabs a poorly hashed map may need on the way are allocated as an insert's are.
//! * [`GoMap::retain`] and [`GoMap::extract_if`] first complete a growth in progress.
//! * The hash is seeded per map (Go's `hash0`), and the seed is drawn anew when the map
//!   becomes empty, so iteration order may change then.
//!
//! # Differences from Go
//!
//! * Keys and values are stored inline whatever their size (Go stores those over 128 bytes
//!   behind a pointer).
//! * Below 32 KiB, bucket arrays get exactly `2^(b-4)` spare overflow buckets rather than
//!   Go's allocator-rounded count (from 32 KiB on the counts are Go's).
//! * The u16 overflow counter saturates where Go's would wrap.
//! * Large old bucket arrays are released piece by piece as the evacuation advances, so
//!   the end of a growth does not pay for freeing the whole array.
//! * [`GoMap::shrink_to_fit`] and [`GoMap::shrink_to`] move the entries into the smallest
//!   array that holds them (the `B` of Go's `make(map, len)`), dropping overflow chains and
//!   tombstones: Go's maps never give memory back (golang/go#20135). Like `reserve`, a bulk
//!   operation, O(len); a [`Cursor`] keeps its guarantees across it.
//!
//! # Sharing a map between threads
//!
//! [`sync`] holds Go's ways of sharing a map, built on `GoMap`: [`sync::ShardedMap`]
//! (read-write-locked shards, the default choice), [`sync::SyncMap`] (Go's `sync.Map`),
//! [`sync::CowMap`] (copy-on-write snapshots) and [`sync::CheckedMap`] (Go's
//! `concurrent map writes` detector, for finding unintended sharing in ported code). Its
//! documentation says which to pick.
//!
//! # Features
//!
//! * `serde`: `Serialize` and `Deserialize` for `GoMap` and the maps of [`sync`].
//! * `tracing`: [tracing](https://docs.rs/tracing) events, target `gomap`, when a growth
//!   starts (INFO `growth_started`: trigger, old and new B, len, bytes), for every old
//!   bucket evacuated (DEBUG `bucket_evacuated`), when a growth finishes (INFO
//!   `growth_finished`: writes it took, wall time, entries moved) or is abandoned (INFO
//!   `growth_abandoned`: by `clear`, `drain`, `reserve`, `shrink_to`, or dropping the map
//!   mid-growth),
//!   and for every overflow bucket attached (DEBUG `overflow_allocated`). Each carries
//!   `map`, a process-unique number of the map, and `growth`, the map's growth number.
//!   `gomap trace` (the CLI) turns them into a Chrome trace. Without the feature none of
//!   this is compiled;
//!   with it and no subscriber interested, an event costs one relaxed atomic load, and
//!   only on growth paths: lookups and writes outside a growth are unchanged. Whether a
//!   growth emits `bucket_evacuated` is decided when it starts (a flag test per bucket
//!   instead of a question to `tracing`), so a subscriber installed mid-growth sees those
//!   from the next growth on. Events are sent from inside growth work, so a subscriber
//!   that panics while handling one cannot leave the map half-changed: the panic is
//!   caught at the event (the panic hook still reports it), that event is lost, and the
//!   map operation completes normally.
//! * `metrics`: `GoMap::publish_metrics` and `MapStats::publish_metrics` set gauges
//!   (len, B, buckets, load factor, bytes, ...) and counters (the [`GrowthCounters`]) in
//!   the [metrics](https://docs.rs/metrics) facade; `describe_metrics()` describes them.
//!   `examples/prometheus.rs` serves them in Prometheus format.
//! * `huge-pages` (Linux; see below): large bucket arrays on transparent huge pages.
//!
//! Without any feature, [`MapStats::growth`] counts growths started, finished and
//! abandoned, buckets evacuated (by writes or on request), entries moved and overflow
//! buckets allocated: plain integer increments on growth paths only.
//!
//! # Huge pages
//!
//! A bucket array of 1 MiB or more comes straight from `mmap`, zeroed by the kernel a
//! page at a time as it is first touched, which is what keeps the insert that starts a
//! growth O(1). A big map then spans thousands of 4 KiB pages, and its operations pay for
//! TLB misses and page faults. With the `huge-pages` feature, on Linux, the control words
//! and slots of an array of 2 MiB or more are offered to transparent huge pages
//! (`madvise(MADV_HUGEPAGE)`; it takes effect when
//! `/sys/kernel/mm/transparent_hugepage/enabled` is `always` or `madvise`, the usual
//! default). On the benchmark machine (a 2-core VM), every operation on a map of 1e6 `u64`
//! keys but `clear` then took 15–35% less time.
//!
//! The cost is latency. The kernel provides a huge page whole on its first touch, and
//! that write pays for all 2 MiB at once: on bare metal, about the time it takes to zero
//! 2 MiB. On the benchmark VM, where the host backs guest memory as it is first used, it
//! took about 9 ms, and growing a map to 1e7 keys had about 100 inserts over 1 ms instead
//! of none (3, up to 4.5 ms, once the VM's memory had been used before). So the feature
//! suits maps built in bulk and then read, not a service that counts on every insert
//! being fast. A process can turn huge pages off for itself, whatever the feature says,
//! with `prctl(PR_SET_THP_DISABLE)`.
//!
//! # Platforms
//!
//! gomap needs `std` and 64-bit atomics (`target_has_atomic = "64"`: every 64-bit target,
//! 32-bit x86 and ARM, wasm32; not 32-bit MIPS or PowerPC). Bucket arrays of 1 MiB or more
//! are mapped directly on Unix systems, which is what makes the insert that starts a growth
//! O(1); elsewhere (Windows, wasm32) they come from the global allocator's `alloc_zeroed`,
//! which may clear a large block itself, so there that insert may cost O(array size). On
//! x86_64 a bucket's tophash bytes are matched with SSE2 (part of the x86_64 baseline),
//! elsewhere with word-at-a-time arithmetic on a `u64`. CI runs the whole test suite on
//! x86_64 Linux, the unit tests and the Go-behaviour tests under Miri on a 32-bit target
//! (i686) and a big-endian one (s390x), and builds for wasm32.

#![deny(unsafe_op_in_unsafe_fn)]
// On docs.rs (`--cfg docsrs`), items behind a feature say which one.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod cursor;
mod entry;
mod error;
mod iter;
mod map;
#[cfg(feature = "metrics")]
mod publish;
mod raw;
#[cfg(feature = "serde")]
mod serde;
mod stats;
pub mod sync;

pub use cursor::Cursor;
pub use entry::{Entry, OccupiedEntry, VacantEntry};
pub use error::TryReserveError;
pub use iter::{Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Range, Values, ValuesMut};
pub use map::{DefaultHashBuilder, GoMap};
#[cfg(feature = "metrics")]
pub use publish::describe_metrics;
pub use stats::{GrowthCounters, MapStats};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
