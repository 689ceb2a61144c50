//! `Serialize` and `Deserialize` for [`GoMap`] and the maps of [`gomap::sync`](crate::sync),
//! behind the `serde` feature. Every map is written as a serde map (a JSON object, for
//! instance), so any of them reads what another wrote.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::sync::{CheckedMap, CowMap, ShardedMap, SyncMap};
use crate::GoMap;

impl<K: Serialize, V: Serialize, S> Serialize for GoMap<K, V, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, K, V, S> Deserialize<'de> for GoMap<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V, S>(PhantomData<GoMap<K, V, S>>);

        impl<'de, K, V, S> Visitor<'de> for MapVisitor<K, V, S>
        where
            K: Deserialize<'de> + Eq + Hash,
            V: Deserialize<'de>,
            S: BuildHasher + Default,
        {
            type Value = GoMap<K, V, S>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // Trust the length hint only so far: it comes from the input.
                let hint = access.size_hint().unwrap_or(0).min(4096);
                let mut map = GoMap::with_capacity_and_hasher(hint, S::default());
                while let Some((k, v)) = access.next_entry()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// All shards held under their read locks at once, so the entries written are one snapshot
/// and their count is exact (formats such as bincode write it first). Writers wait until
/// it is done; `K::serialize` and `V::serialize` run under the locks and must not use the
/// map (that panics, as in [`ShardedMap::get_with`]).
impl<K: Serialize, V: Serialize, S> Serialize for ShardedMap<K, V, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.with_all_shards(|shards| {
            let mut map = serializer.serialize_map(Some(shards.iter().map(|m| m.len()).sum()))?;
            for (k, v) in shards.iter().flat_map(|m| m.iter()) {
                map.serialize_entry(k, v)?;
            }
            map.end()
        })
    }
}

/// Read into a `GoMap` first, then spread over the shards.
impl<'de, K, V, S> Deserialize<'de> for ShardedMap<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(GoMap::<K, V>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// The entries [`range`](SyncMap::range) visits, cloned first so that their count is
/// exact; the serializer then runs with nothing of the map held.
impl<K, V> Serialize for SyncMap<K, V>
where
    K: Serialize + Eq + Hash + Clone,
    V: Serialize + Clone,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut entries = Vec::new();
        self.range(|k, v| {
            entries.push((k.clone(), v.clone()));
            true
        });
        serializer.collect_map(entries)
    }
}

/// Every entry goes into the read-only map, as with [`FromIterator`].
impl<'de, K, V> Deserialize<'de> for SyncMap<K, V>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(GoMap::<K, V>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// The current snapshot.
impl<K: Serialize, V: Serialize> Serialize for CowMap<K, V> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.load().serialize(serializer)
    }
}

impl<'de, K, V> Deserialize<'de> for CowMap<K, V>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        GoMap::deserialize(deserializer).map(CowMap::from_map)
    }
}

/// An iteration, as [`range`](CheckedMap::range) is: a write while it runs panics with
/// `"concurrent map iteration and map write"`.
impl<K: Serialize, V: Serialize> Serialize for CheckedMap<K, V> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.iterate(|map| map.serialize(serializer))
    }
}

impl<'de, K, V> Deserialize<'de> for CheckedMap<K, V>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        GoMap::deserialize(deserializer).map(CheckedMap::from_map)
    }
}
