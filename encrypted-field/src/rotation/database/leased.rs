//! A [`Database`]'s lease (see `lease.rs` for the statements and why they hold), and the loop that
//! runs a statement or a write transaction again after a transient conflict (`retry.rs`).

use std::time::{Duration, Instant};

use super::lease::{self, HeldLease, LeaseRow, WriteError};
use super::retry::{MAX_RETRIES, backoff, is_transient};
use super::{Backend, Database, db_error};
// The backends' modules, as `with_backend!` names them.
#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::pg;
#[cfg(feature = "sqlite")]
use super::sqlite;
use crate::rotation::error::{Error, Result};
use crate::rotation::lease_holder::LeaseHolder;

/// The longest host name a lease row keeps (its column is `VARCHAR(255)`).
const MAX_HOST_CHARS: usize = 255;

impl Database {
    /// Runs `attempt` (one statement, or one transaction that rolls back whole on error) with the
    /// lease this connection holds, again after each transient conflict (see `retry.rs`), at most
    /// [`MAX_RETRIES`] times, counting each retry in
    /// [`conflicts_retried`](Self::conflicts_retried). A lost lease is
    /// [`Error::LeaseLost`]; any other error, or a conflict that outlasts the retries, is
    /// [`Error::Database`] with `action()`.
    pub(super) fn retrying<T>(
        &mut self,
        action: impl Fn() -> String,
        mut attempt: impl FnMut(&mut Backend, Option<&HeldLease>) -> Result<T, WriteError>,
    ) -> Result<T> {
        let mut retries = 0;
        loop {
            match attempt(&mut self.backend, self.lease.as_ref()) {
                Ok(value) => return Ok(value),
                Err(WriteError::LeaseLost) => return Err(self.lease_lost()),
                Err(WriteError::Database(error)) if is_transient(&error) => {
                    if retries == MAX_RETRIES {
                        let action = format!(
                            "{} (a transient conflict that persisted through {MAX_RETRIES} retries)",
                            action()
                        );
                        return Err(db_error(action)(error));
                    }
                    tracing::debug!(action = %action(), %error, retry = retries + 1, "transient conflict; retrying");
                    self.conflicts_retried += 1;
                    std::thread::sleep(backoff(retries));
                    retries += 1;
                }
                Err(WriteError::Database(error)) => return Err(db_error(action())(error)),
            }
        }
    }

    /// How many times a statement or batch of this connection was run again after a transient
    /// conflict (deadlock, certification failure, serialization failure, lock wait timeout,
    /// busy SQLite database), since it was opened.
    pub(crate) fn conflicts_retried(&self) -> u64 {
        self.conflicts_retried
    }

    /// Takes the lease `name` for `ttl` (by the database's clock) unless another run holds it:
    /// `Ok(Err(holder))` names who does. Once taken, every fenced write of this connection
    /// checks it, until [`release_lease`](Self::release_lease).
    pub(crate) fn take_lease(
        &mut self,
        name: &str,
        ttl: Duration,
    ) -> Result<std::result::Result<(), LeaseHolder>> {
        let mut id = [0u8; 16];
        crate::keys::os_random::fill_from_os(&mut id)?;
        let owner: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let host: String = crate::fleet::host::host_name()
            .chars()
            .take(MAX_HOST_CHARS)
            .collect();
        let pid = i64::from(std::process::id());
        let ttl_ms = i64::try_from(ttl.as_millis())
            .unwrap_or(i64::MAX / 4)
            .clamp(1, i64::MAX / 4);
        let action = || format!("taking the lease `{name}` in {}", lease::LEASES_TABLE);
        let taken = self.retrying(action, |backend, _| {
            with_backend!(backend, |conn, dialect, _module| {
                lease::take(conn, dialect, name, &owner, &host, pid, ttl_ms)
            })
            .map_err(WriteError::from)
        })?;
        let row = self.read_lease(name)?;
        match row {
            Some(row) if taken && row.owner == owner => {
                self.lease = Some(HeldLease {
                    name: name.to_owned(),
                    owner,
                    fence: row.fence,
                    ttl_ms,
                    renewed_at: Instant::now(),
                });
                Ok(Ok(()))
            }
            Some(row) => Ok(Err(LeaseHolder::from_row(&row))),
            // The row was inserted before the update: it cannot be missing, unless deleted by hand.
            None => Err(Error::Database {
                action: action(),
                source: format!("the lease row `{name}` disappeared while it was taken").into(),
            }),
        }
    }

    /// Who holds the lease `name` now (none when it is free, released or expired).
    pub(crate) fn lease_holder(&mut self, name: &str) -> Result<Option<LeaseHolder>> {
        Ok(self
            .read_lease(name)?
            .filter(|row| !row.owner.is_empty() && row.expires_at_ms > row.now_ms)
            .map(|row| LeaseHolder::from_row(&row)))
    }

    fn read_lease(&mut self, name: &str) -> Result<Option<LeaseRow>> {
        self.retrying(
            || format!("reading the lease `{name}` from {}", lease::LEASES_TABLE),
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| lease::read(
                    conn, dialect, name
                ))
                .map_err(WriteError::from)
            },
        )
    }

    /// Renews the lease this connection holds when a third of its time to live has passed since
    /// it was last renewed (fenced writes renew it too); [`Error::LeaseLost`] if another run has
    /// taken it over meanwhile.
    pub(crate) fn renew_lease_if_due(&mut self) -> Result<()> {
        let Some(held) = &self.lease else {
            return Ok(());
        };
        let third = Duration::from_millis(u64::try_from(held.ttl_ms / 3).unwrap_or(0));
        if held.renewed_at.elapsed() < third {
            return Ok(());
        }
        self.renew_lease()
    }

    /// Renews the lease this connection holds now, however recently it was renewed: the fenced
    /// check run right before a side effect outside a batch's write transaction (a key backup, a
    /// key file, an `active_version` pin), so that a run whose lease was taken over meanwhile —
    /// after a slow KMS call, say — does nothing more and stops with [`Error::LeaseLost`].
    /// Nothing to do on a connection that holds no lease.
    pub(crate) fn renew_lease(&mut self) -> Result<()> {
        let Some(held) = &self.lease else {
            return Ok(());
        };
        let name = held.name.clone();
        self.retrying(
            || format!("renewing the lease `{name}` in {}", lease::LEASES_TABLE),
            |backend, held| {
                with_backend!(backend, |conn, dialect, _module| lease::fence(
                    conn, dialect, held
                ))
            },
        )?;
        self.lease_renewed();
        Ok(())
    }

    /// Notes that a fenced write just renewed the lease.
    pub(super) fn lease_renewed(&mut self) {
        if let Some(held) = &mut self.lease {
            held.renewed_at = Instant::now();
        }
    }

    /// Releases the lease this connection holds (if it is still this run's: a lease taken over
    /// is left to its new holder).
    pub(crate) fn release_lease(&mut self) -> Result<()> {
        let Some(held) = self.lease.take() else {
            return Ok(());
        };
        self.retrying(
            || {
                format!(
                    "releasing the lease `{}` in {}",
                    held.name,
                    lease::LEASES_TABLE
                )
            },
            |backend, _| {
                with_backend!(backend, |conn, dialect, _module| lease::release(
                    conn, dialect, &held
                ))
                .map_err(WriteError::from)
            },
        )
    }

    /// The error of a fenced write that found its lease taken over: the lease is forgotten (this
    /// run writes nothing more), and the new holder named if it can be read.
    fn lease_lost(&mut self) -> Error {
        let Some(held) = self.lease.take() else {
            return Error::LeaseLost {
                fence: 0,
                holder: None,
            };
        };
        let holder = self.lease_holder(&held.name).ok().flatten();
        Error::LeaseLost {
            fence: held.fence,
            holder,
        }
    }
}
