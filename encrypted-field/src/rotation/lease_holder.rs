//! Who holds the rotation lease (a leaf: [`crate::rotation::lease`] takes and renews the lease,
//! [`crate::rotation::Error`] names its holder).

use std::fmt;

use serde::Serialize;

/// Who holds the rotation lease, as its row says, judged by the database's clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseHolder {
    /// The holder's host name.
    pub host: String,
    /// The holder's process id on that host.
    pub pid: i64,
    /// The random id of the holder's taking of the lease.
    pub owner: String,
    /// The fencing counter of that taking: one more each time the lease is taken.
    pub fence: i64,
    /// When it was taken, RFC 3339 in UTC, by the database's clock.
    pub since: String,
    /// Seconds until it expires unless renewed (a live holder renews it with every batch).
    pub expires_in_seconds: f64,
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host {} pid {} since {} (lease {}, fence {}), expires in {:.1}s unless renewed",
            self.host, self.pid, self.since, self.owner, self.fence, self.expires_in_seconds
        )
    }
}
