//! The operating system's random number generator, the one source of every key and IV.

use rand::TryRngCore as _;

use crate::error::{Error, Result};

/// Fills `bytes` from the operating system's generator: every key and IV comes from here. The
/// kernel keeps no per-process state to copy, so a forked child never repeats its parent's bytes
/// (`rand`'s thread-local generator would, since rand 0.9 dropped its fork handler).
pub(crate) fn fill_from_os(bytes: &mut [u8]) -> Result<()> {
    #[cfg(test)]
    os_draws::count();
    rand::rngs::OsRng
        .try_fill_bytes(bytes)
        .map_err(|e| Error::Randomness(e.to_string()))
}

/// A number in `[0.5, 1]` from the operating system's generator, to spread waits (retry
/// backoff, lease polls) so two runs do not retry in step; `0.75` if the generator fails (a wait
/// is not a secret).
#[cfg(feature = "_database")]
pub(crate) fn jitter_factor() -> f64 {
    let mut bytes = [0u8; 4];
    match fill_from_os(&mut bytes) {
        Ok(()) => 0.5 + f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) / 2.0,
        Err(_) => 0.75,
    }
}

/// Where a caller that cannot return an error stops: a value is never sealed, nor a key made,
/// with randomness that the operating system did not give.
#[cold]
pub(crate) fn os_generator_failed(error: &Error) -> ! {
    #[allow(clippy::panic)]
    {
        panic!("{error}")
    }
}

/// How many times this thread drew from the operating system, for tests of who draws from it.
#[cfg(test)]
pub(crate) mod os_draws {
    use std::cell::Cell;

    thread_local!(static DRAWS: Cell<usize> = const { Cell::new(0) });

    pub(crate) fn count() {
        DRAWS.with(|d| d.set(d.get() + 1));
    }

    /// The draws of this thread so far.
    pub(crate) fn so_far() -> usize {
        DRAWS.with(Cell::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "_database")]
    #[test]
    fn jitter_stays_in_the_upper_half_and_varies() {
        let draws: Vec<f64> = (0..64).map(|_| jitter_factor()).collect();
        assert!(draws.iter().all(|f| (0.5..=1.0).contains(f)), "{draws:?}");
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
    }
}
