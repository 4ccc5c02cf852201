//! IVs drawn from the operating system many at a time, for passes that seal thousands of values
//! in a row (rotation): one `getrandom` call fills [`IvPool::IVS_PER_DRAW`] IVs instead of one
//! call per IV.
//!
//! The IVs are exactly what per-value draws would give: fresh bytes of the operating system's
//! generator ([`fill_from_os`]), each handed out once and then forgotten. The pool is owned by the
//! pass that uses it, is neither `Clone` nor `Copy`, and is wiped when dropped, so no IV can be
//! handed out twice: [`take`](IvPool::take) moves a cursor forward over bytes it never rewinds,
//! and the pool refills (with new bytes from the OS) only once every IV of the previous draw was
//! taken. Unused IVs are discarded, which costs nothing but the bytes.

use zeroize::Zeroize as _;

use crate::error::Result;
use crate::format::layout::IV_LEN;
use crate::keys::os_random::fill_from_os;

/// A store of IVs drawn from the operating system in bulk, each handed out once.
pub(crate) struct IvPool {
    /// `IVS_PER_DRAW` IVs back to back; those before `next` were handed out (and wiped).
    bytes: Box<[u8]>,
    /// Index of the next IV to hand out; `IVS_PER_DRAW` when the pool is empty.
    next: usize,
}

impl IvPool {
    /// IVs per call to the operating system: 4 KiB of randomness, a few microseconds of kernel
    /// time, against one system call per IV.
    pub(crate) const IVS_PER_DRAW: usize = 256;

    /// An empty pool: the first [`take`](Self::take) draws.
    pub(crate) fn new() -> Self {
        Self {
            bytes: vec![0u8; IV_LEN * Self::IVS_PER_DRAW].into_boxed_slice(),
            next: Self::IVS_PER_DRAW,
        }
    }

    /// The next unused IV, drawing a fresh set from the operating system when the pool is empty.
    /// An IV is returned once only: its bytes in the pool are wiped as it is taken.
    pub(crate) fn take(&mut self) -> Result<[u8; IV_LEN]> {
        if self.next >= Self::IVS_PER_DRAW {
            // Mark the pool empty first: a failed draw must not leave old bytes to hand out again.
            self.next = Self::IVS_PER_DRAW;
            fill_from_os(&mut self.bytes)?;
            self.next = 0;
        }
        let start = self.next * IV_LEN;
        let mut iv = [0u8; IV_LEN];
        let slot =
            self.bytes
                .get_mut(start..start + IV_LEN)
                .ok_or(crate::error::Error::Randomness(
                    "IV pool cursor out of range".to_owned(),
                ))?;
        iv.copy_from_slice(slot);
        slot.zeroize();
        self.next += 1;
        Ok(iv)
    }
}

impl Drop for IvPool {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl std::fmt::Debug for IvPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvPool")
            .field(
                "left",
                &(Self::IVS_PER_DRAW - self.next.min(Self::IVS_PER_DRAW)),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::os_random::os_draws;
    use std::collections::HashSet;

    #[test]
    fn every_iv_is_distinct_across_refills() {
        let mut pool = IvPool::new();
        let ivs: Vec<[u8; IV_LEN]> = (0..IvPool::IVS_PER_DRAW * 3 + 7)
            .map(|_| pool.take().unwrap())
            .collect();
        let distinct: HashSet<_> = ivs.iter().collect();
        assert_eq!(distinct.len(), ivs.len());
        assert!(ivs.iter().all(|iv| iv != &[0u8; IV_LEN]));
    }

    #[test]
    fn draws_from_the_os_once_per_refill() {
        let before = os_draws::so_far();
        let mut pool = IvPool::new();
        assert_eq!(os_draws::so_far(), before, "an empty pool draws nothing");
        for _ in 0..IvPool::IVS_PER_DRAW {
            pool.take().unwrap();
        }
        assert_eq!(os_draws::so_far(), before + 1);
        pool.take().unwrap();
        assert_eq!(os_draws::so_far(), before + 2);
    }

    #[test]
    fn taken_ivs_are_wiped_from_the_pool() {
        let mut pool = IvPool::new();
        let first = pool.take().unwrap();
        assert_eq!(&pool.bytes[..IV_LEN], &[0u8; IV_LEN]);
        assert_ne!(first, [0u8; IV_LEN]);
    }
}
