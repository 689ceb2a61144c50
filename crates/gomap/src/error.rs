//! [`TryReserveError`]: why [`GoMap::try_reserve`](crate::GoMap::try_reserve) failed.

use core::alloc::Layout;
use core::fmt;

/// The error [`GoMap::try_reserve`](crate::GoMap::try_reserve) returns: the map could not
/// be given the room asked for. The map is unchanged.
///
/// std's own `TryReserveError` cannot be built outside std (its kind is unstable), so this
/// is gomap's, shaped like hashbrown's.
///
/// ```
/// use gomap::{GoMap, TryReserveError};
///
/// let mut map: GoMap<u64, u64> = GoMap::new();
/// assert_eq!(map.try_reserve(usize::MAX), Err(TryReserveError::CapacityOverflow));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TryReserveError {
    /// The bucket array for that many entries would not fit the address space (or its size
    /// overflows `usize`).
    CapacityOverflow,
    /// The system refused the memory.
    AllocError {
        /// What was asked for.
        layout: Layout,
    },
}

impl TryReserveError {
    /// What the infallible operations (`reserve`, inserts, `clone`) do with the same
    /// failure, as std's collections do: panic with "capacity overflow", or report the
    /// refused allocation through [`std::alloc::handle_alloc_error`].
    pub(crate) fn raise(self) -> ! {
        match self {
            TryReserveError::CapacityOverflow => panic!("capacity overflow"),
            TryReserveError::AllocError { layout } => std::alloc::handle_alloc_error(layout),
        }
    }
}

impl fmt::Display for TryReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory allocation failed")?;
        match self {
            TryReserveError::CapacityOverflow => {
                f.write_str(" because the computed capacity exceeded the map's maximum")
            }
            TryReserveError::AllocError { layout } => {
                write!(f, ": the system refused {} bytes", layout.size())
            }
        }
    }
}

impl std::error::Error for TryReserveError {}
