//! `GoMap::try_reserve`: each way it can fail leaves the map exactly as it was, and a
//! success keeps `reserve`'s promise.
//!
//! The global allocator here refuses anything past a limit, so that an allocation failure
//! happens the same way natively (where a large array is mapped directly, and a mapping of
//! more than the address space fails) and under Miri (where every array comes from the
//! global allocator, and Miri itself would stop on a request it cannot back).

mod common;

use std::alloc::System;
use std::sync::{Mutex, MutexGuard};

use cap::Cap;
use common::{mid_growth, scale};
use gomap::{GoMap, MapStats, TryReserveError};

/// The whole test binary's heap, limited to 1 TiB on 64-bit targets and 256 MiB on 32-bit
/// ones: more than any test here really uses, far less than the failing requests. (`1 <<
/// (usize::BITS - 24)` is `1 << 40` spelled so that a 32-bit build, which never takes that
/// branch, still compiles.)
#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, if usize::BITS == 64 { 1 << (usize::BITS - 24) } else { 1 << 28 });

/// log2 of an entry count whose array fits `isize` but not the address space (natively, on
/// 64-bit targets) nor the heap's limit: about 2^49 bytes on 64-bit targets, 1.2 GiB on
/// 32-bit ones.
const REFUSED_LOG2: u32 = if usize::BITS == 64 { 44 } else { 25 };

/// Tests that lower the limit hold this, and so do the others, so no test runs while the
/// heap is nearly closed.
static LIMIT: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LIMIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything observable of a map: its stats and its entries in walk order (which changes
/// if a single entry moves).
fn state(map: &GoMap<u64, u64>) -> (MapStats, Vec<(u64, u64)>) {
    map.check_invariants();
    (map.stats(), map.iter().map(|(&k, &v)| (k, v)).collect())
}

/// A map in the middle of a doubling, the richest state a failure must leave alone.
fn growing_map() -> GoMap<u64, u64> {
    let (map, _) = mid_growth(scale(3_000, 100));
    assert!(map.stats().growing);
    map
}

#[test]
fn an_overflowing_count_is_a_capacity_overflow() {
    let _serial = serial();
    let mut map = growing_map();
    let before = state(&map);
    // `len + additional` overflows `usize`.
    assert_eq!(map.try_reserve(usize::MAX), Err(TryReserveError::CapacityOverflow));
    assert_eq!(map.try_reserve(usize::MAX - map.len() + 1), Err(TryReserveError::CapacityOverflow));
    // The sum fits, but the bucket array's size in bytes does not.
    assert_eq!(map.try_reserve(usize::MAX / 2), Err(TryReserveError::CapacityOverflow));
    assert_eq!(state(&map), before);
}

#[test]
#[cfg_attr(
    all(not(miri), not(target_pointer_width = "64")),
    ignore = "a 32-bit address space may hold the array, which is mapped outside the capped heap"
)]
fn a_refused_array_is_an_alloc_error_and_changes_nothing() {
    let _serial = serial();
    let mut map = growing_map();
    let before = state(&map);
    // 2^44 entries on 64-bit targets: an array of about 2^49 bytes, which fits `isize` but
    // not the address space (natively) or the heap's limit (under Miri).
    let additional = 1 << REFUSED_LOG2;
    match map.try_reserve(additional) {
        Err(TryReserveError::AllocError { layout }) => {
            assert!(layout.size() >= additional * 16, "the layout reported is not the array's: {layout:?}")
        }
        other => panic!("expected an allocation error, got {other:?}"),
    }
    assert_eq!(state(&map), before);
    // The map goes on as before, growth and all.
    let next = before.1.iter().map(|&(k, _)| k).max().unwrap() + 1;
    for k in next..next + 1000 {
        map.insert(k, k);
    }
    map.check_invariants();
    assert_eq!(map.len(), before.0.len + 1000);
    assert_eq!(map.try_reserve(10_000), Ok(()));
    assert!(map.capacity() >= map.len() + 10_000);
}

#[test]
fn a_refused_scratch_room_changes_nothing() {
    let _serial = serial();
    // Natively the new array (5 MB) is mapped, outside the heap, and the hashes' room
    // (8 bytes an entry, 400 KB) is what the heap refuses; under Miri the array is
    // refused first. Either way a first allocation may have succeeded and must be undone.
    let (mut map, _) = mid_growth(scale(50_000, 100));
    let before = state(&map);
    // Leave the heap 64 KiB, for whatever else the test binary allocates meanwhile.
    let limit = HEAP.limit();
    HEAP.set_limit(HEAP.allocated() + (64 << 10)).expect("lowering the limit");
    let result = map.try_reserve(scale(1 << 17, 1 << 12));
    HEAP.set_limit(limit).expect("restoring the limit");
    assert!(matches!(result, Err(TryReserveError::AllocError { .. })), "{result:?}");
    assert_eq!(state(&map), before);
}

#[test]
fn a_success_keeps_reserves_promise() {
    let _serial = serial();
    for extra in [0, 1, 7, 100, scale(10_000, 300)] {
        let mut map = growing_map();
        let before = state(&map);
        assert_eq!(map.try_reserve(extra), Ok(()));
        let s = map.stats();
        assert!(map.capacity() >= map.len() + extra);
        let mut after: Vec<_> = map.iter().map(|(&k, &v)| (k, v)).collect();
        let mut expected = before.1.clone();
        after.sort_unstable();
        expected.sort_unstable();
        assert_eq!(after, expected, "try_reserve({extra}) changed the entries");
        // The next `extra` new keys start no growth.
        let next = expected.last().unwrap().0 + 1;
        for k in next..next + extra as u64 {
            let was_growing = map.stats().growing;
            map.insert(k, k);
            assert!(was_growing || !map.stats().growing, "try_reserve({extra}): a growth at key {k}");
            assert_eq!(map.stats().b, s.b, "try_reserve({extra}): B changed at key {k}");
        }
        map.check_invariants();
    }
}

#[test]
#[cfg_attr(
    all(not(miri), not(target_pointer_width = "64")),
    ignore = "a 32-bit address space may hold the array, which is mapped outside the capped heap"
)]
fn the_error_reads_well_and_is_an_error() {
    let _serial = serial();
    let overflow = GoMap::<u64, u64>::new().try_reserve(usize::MAX).unwrap_err();
    let refused = GoMap::<u64, u64>::new().try_reserve(1 << REFUSED_LOG2).unwrap_err();
    assert!(overflow.to_string().contains("capacity"), "{overflow}");
    // The refusal names what was asked for: at least the entries' 16 bytes each.
    let TryReserveError::AllocError { layout } = refused.clone() else { panic!("{refused:?}") };
    assert!(layout.size() >= 16 << REFUSED_LOG2, "{layout:?}");
    assert!(refused.to_string().contains(&format!("refused {} bytes", layout.size())), "{refused}");
    // And it goes where errors go (`?` into a boxed error): checked at compile time.
    fn is_boxable_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_boxable_error(&refused);
}
