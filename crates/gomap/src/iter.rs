//! The iterators of [`GoMap`](crate::GoMap): thin wrappers over the raw walks.

use core::fmt;
use core::iter::FusedIterator;

use crate::raw;

/// Implements the iterator traits for a wrapper whose `inner` yields `$item`.
macro_rules! forward_iterator {
    ($name:ident<$($lt:lifetime,)? $($p:ident),*>, $item:ty, |$x:pat_param| $map:expr) => {
        impl<$($lt,)? $($p),*> Iterator for $name<$($lt,)? $($p),*> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.inner.next().map(|$x| $map)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }

            #[inline]
            fn fold<B, F: FnMut(B, $item) -> B>(self, init: B, mut f: F) -> B {
                self.inner.fold(init, move |acc, $x| f(acc, $map))
            }
        }

        impl<$($lt,)? $($p),*> ExactSizeIterator for $name<$($lt,)? $($p),*> {}
        impl<$($lt,)? $($p),*> FusedIterator for $name<$($lt,)? $($p),*> {}
    };
}

/// An iterator over a map's entries, from [`GoMap::iter`](crate::GoMap::iter).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// let mut iter = map.iter();
/// assert_eq!(iter.len(), 1);
/// assert_eq!(iter.next(), Some((&1, &'a')));
/// assert_eq!(iter.next(), None);
/// ```
pub struct Iter<'a, K, V> {
    inner: raw::Iter<'a, K, V>,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(crate) fn new(inner: raw::Iter<'a, K, V>) -> Self {
        Iter { inner }
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter { inner: self.inner.clone() }
    }
}

forward_iterator!(Iter<'a, K, V>, (&'a K, &'a V), |x| x);

/// An iterator over a map's entries in Go's randomized `range` order, from
/// [`GoMap::range`](crate::GoMap::range).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a'), (2, 'b')]);
/// let mut range = map.range();
/// assert_eq!(range.len(), 2);
/// let mut seen: Vec<_> = range.collect();
/// seen.sort();
/// assert_eq!(seen, [(&1, &'a'), (&2, &'b')]);
/// ```
pub struct Range<'a, K, V> {
    inner: raw::Range<'a, K, V>,
}

impl<'a, K, V> Range<'a, K, V> {
    pub(crate) fn new(inner: raw::Range<'a, K, V>) -> Self {
        Range { inner }
    }
}

impl<K, V> Clone for Range<'_, K, V> {
    fn clone(&self) -> Self {
        Range { inner: self.inner.clone() }
    }
}

forward_iterator!(Range<'a, K, V>, (&'a K, &'a V), |x| x);

/// A mutable iterator over a map's entries, from [`GoMap::iter_mut`](crate::GoMap::iter_mut).
///
/// ```
/// let mut map = gomap::GoMap::from([(1, 10)]);
/// for (_, v) in map.iter_mut() {
///     *v += 1;
/// }
/// assert_eq!(map[&1], 11);
/// ```
pub struct IterMut<'a, K, V> {
    inner: raw::IterMut<'a, K, V>,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(crate) fn new(inner: raw::IterMut<'a, K, V>) -> Self {
        IterMut { inner }
    }
}

forward_iterator!(IterMut<'a, K, V>, (&'a K, &'a mut V), |x| x);

/// An owning iterator over a map's entries, from `GoMap::into_iter`.
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// let pairs: Vec<(i32, char)> = map.into_iter().collect();
/// assert_eq!(pairs, [(1, 'a')]);
/// ```
pub struct IntoIter<K, V> {
    inner: raw::IntoIter<K, V>,
}

impl<K, V> IntoIter<K, V> {
    pub(crate) fn new(inner: raw::IntoIter<K, V>) -> Self {
        IntoIter { inner }
    }
}

forward_iterator!(IntoIter<K, V>, (K, V), |x| x);

/// A draining iterator, from [`GoMap::drain`](crate::GoMap::drain).
///
/// ```
/// let mut map = gomap::GoMap::from([(1, 'a')]);
/// assert_eq!(map.drain().collect::<Vec<_>>(), [(1, 'a')]);
/// assert!(map.is_empty());
/// ```
pub struct Drain<'a, K, V> {
    inner: raw::Drain<'a, K, V>,
}

impl<'a, K, V> Drain<'a, K, V> {
    pub(crate) fn new(inner: raw::Drain<'a, K, V>) -> Self {
        Drain { inner }
    }
}

forward_iterator!(Drain<'a, K, V>, (K, V), |x| x);

/// An iterator over a map's keys, from [`GoMap::keys`](crate::GoMap::keys).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1]);
/// ```
pub struct Keys<'a, K, V> {
    inner: Iter<'a, K, V>,
}

impl<'a, K, V> Keys<'a, K, V> {
    pub(crate) fn new(inner: Iter<'a, K, V>) -> Self {
        Keys { inner }
    }
}

impl<K, V> Clone for Keys<'_, K, V> {
    fn clone(&self) -> Self {
        Keys { inner: self.inner.clone() }
    }
}

forward_iterator!(Keys<'a, K, V>, &'a K, |(k, _)| k);

/// An iterator over a map's values, from [`GoMap::values`](crate::GoMap::values).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// assert_eq!(map.values().copied().collect::<Vec<_>>(), ['a']);
/// ```
pub struct Values<'a, K, V> {
    inner: Iter<'a, K, V>,
}

impl<'a, K, V> Values<'a, K, V> {
    pub(crate) fn new(inner: Iter<'a, K, V>) -> Self {
        Values { inner }
    }
}

impl<K, V> Clone for Values<'_, K, V> {
    fn clone(&self) -> Self {
        Values { inner: self.inner.clone() }
    }
}

forward_iterator!(Values<'a, K, V>, &'a V, |(_, v)| v);

/// A mutable iterator over a map's values, from [`GoMap::values_mut`](crate::GoMap::values_mut).
///
/// ```
/// let mut map = gomap::GoMap::from([(1, 10)]);
/// map.values_mut().for_each(|v| *v = 0);
/// assert_eq!(map[&1], 0);
/// ```
pub struct ValuesMut<'a, K, V> {
    inner: IterMut<'a, K, V>,
}

impl<'a, K, V> ValuesMut<'a, K, V> {
    pub(crate) fn new(inner: IterMut<'a, K, V>) -> Self {
        ValuesMut { inner }
    }
}

forward_iterator!(ValuesMut<'a, K, V>, &'a mut V, |(_, v)| v);

/// An owning iterator over a map's keys, from [`GoMap::into_keys`](crate::GoMap::into_keys).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// assert_eq!(map.into_keys().collect::<Vec<_>>(), [1]);
/// ```
pub struct IntoKeys<K, V> {
    inner: IntoIter<K, V>,
}

impl<K, V> IntoKeys<K, V> {
    pub(crate) fn new(inner: IntoIter<K, V>) -> Self {
        IntoKeys { inner }
    }
}

forward_iterator!(IntoKeys<K, V>, K, |(k, _)| k);

/// An owning iterator over a map's values, from [`GoMap::into_values`](crate::GoMap::into_values).
///
/// ```
/// let map = gomap::GoMap::from([(1, 'a')]);
/// assert_eq!(map.into_values().collect::<Vec<_>>(), ['a']);
/// ```
pub struct IntoValues<K, V> {
    inner: IntoIter<K, V>,
}

impl<K, V> IntoValues<K, V> {
    pub(crate) fn new(inner: IntoIter<K, V>) -> Self {
        IntoValues { inner }
    }
}

forward_iterator!(IntoValues<K, V>, V, |(_, v)| v);

/// A lazy iterator removing the entries a predicate selects, from
/// [`GoMap::extract_if`](crate::GoMap::extract_if). Entries it does not reach stay.
///
/// ```
/// let mut map = gomap::GoMap::from([(1, 'a'), (2, 'b')]);
/// let removed: Vec<_> = map.extract_if(|k, _| *k == 2).collect();
/// assert_eq!(removed, [(2, 'b')]);
/// assert_eq!(map.len(), 1);
/// ```
pub struct ExtractIf<'a, K, V, F> {
    inner: raw::ExtractIf<'a, K, V>,
    pred: F,
}

impl<'a, K, V, F> ExtractIf<'a, K, V, F> {
    pub(crate) fn new(inner: raw::ExtractIf<'a, K, V>, pred: F) -> Self {
        ExtractIf { inner, pred }
    }
}

impl<K, V, F: FnMut(&K, &mut V) -> bool> Iterator for ExtractIf<'_, K, V, F> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.inner.next(&mut self.pred)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.inner.len_bound()))
    }
}

impl<K, V, F: FnMut(&K, &mut V) -> bool> FusedIterator for ExtractIf<'_, K, V, F> {}

/// Debug-prints the entries an iterator has left, as std's iterators do.
macro_rules! debug_rest {
    ($name:ident<$($lt:lifetime,)? K, V>, $bounds:path, |$s:ident| $rest:expr) => {
        impl<$($lt,)? K: $bounds, V: $bounds> fmt::Debug for $name<$($lt,)? K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $s = self;
                f.debug_list().entries($rest).finish()
            }
        }
    };
}

debug_rest!(Iter<'a, K, V>, fmt::Debug, |s| s.clone());
debug_rest!(Range<'a, K, V>, fmt::Debug, |s| s.clone());
debug_rest!(IterMut<'a, K, V>, fmt::Debug, |s| s.inner.rest());
debug_rest!(IntoIter<K, V>, fmt::Debug, |s| s.inner.rest());
debug_rest!(Drain<'a, K, V>, fmt::Debug, |s| s.inner.rest());
debug_rest!(Keys<'a, K, V>, fmt::Debug, |s| s.clone());
debug_rest!(Values<'a, K, V>, fmt::Debug, |s| s.clone());
debug_rest!(ValuesMut<'a, K, V>, fmt::Debug, |s| s.inner.inner.rest().map(|(_, v)| v));
debug_rest!(IntoKeys<K, V>, fmt::Debug, |s| s.inner.inner.rest().map(|(k, _)| k));
debug_rest!(IntoValues<K, V>, fmt::Debug, |s| s.inner.inner.rest().map(|(_, v)| v));

impl<K, V, F> fmt::Debug for ExtractIf<'_, K, V, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}
