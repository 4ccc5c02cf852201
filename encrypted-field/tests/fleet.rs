//! Fleet membership and staged activation on a real database (SQLite in WAL mode, MariaDB,
//! PostgreSQL): members check in, apply the database's active version over "the highest", and
//! `fleet::activate` waits for every member, names a lagging one, and activates nothing then.
//!
//! Run with `cargo test -p encrypted-field --features sqlite,mysql,postgres --test fleet`.
#![cfg(any(feature = "sqlite", feature = "mysql", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "cli")]
#[path = "support/binary.rs"]
mod binary;
#[cfg(feature = "cli")]
#[path = "fleet/blind_index.rs"]
mod blind_index;
#[cfg(feature = "cli")]
#[path = "fleet/cli.rs"]
mod cli;
#[path = "fleet/fresh.rs"]
mod fresh;

use std::time::Duration;

use encrypted_field::fleet::{
    self, FleetMember, FleetOptions, Staging, instances, record_active, recorded_active,
};
use encrypted_field::keys::KeysDir;
use encrypted_field::rotation::Error;
use encrypted_field::rotation::database::Database;
use encrypted_field::testing::Backend;
use encrypted_field::{KeyVersion, MasterKey};
use fresh::FreshDatabase;

const V1: KeyVersion = KeyVersion::new(1);
const V2: KeyVersion = KeyVersion::new(2);

/// A keys directory of the given versions (each key made from its number, so two directories
/// with the same versions hold the same keys, as two hosts given the same secret do).
fn keys_dir(versions: &[u32]) -> (tempfile::TempDir, KeysDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = KeysDir::new(tmp.path().join("keys"));
    for v in versions {
        add_version(&dir, *v);
    }
    (tmp, dir)
}

fn add_version(dir: &KeysDir, version: u32) {
    std::fs::create_dir_all(dir.path()).unwrap();
    let byte = u8::try_from(version).unwrap();
    MasterKey::from_bytes([byte; 32])
        .write_to_new_file(&dir.path().join(format!("enc_key_v{version}")))
        .unwrap();
}

fn member(url: &str, host: &str, dir: &KeysDir) -> FleetMember {
    let dir = dir.clone();
    fleet::join_with_own_ring(
        url,
        FleetOptions {
            check_in_interval: Duration::from_millis(100),
            host: Some(host.to_owned()),
            ..FleetOptions::default()
        },
        move || dir.load(None),
    )
    .unwrap()
}

fn staging(wait: Duration) -> Staging {
    Staging {
        wait,
        seen_within: Duration::from_secs(60),
        poll: Duration::from_millis(50),
        force: false,
    }
}

fn each_backend(scenario: fn(&str)) {
    let built = [
        cfg!(feature = "sqlite"),
        cfg!(feature = "mysql"),
        cfg!(feature = "postgres"),
    ];
    for (backend, built) in Backend::ALL.into_iter().zip(built) {
        if !built {
            continue;
        }
        if let Some(db) = FreshDatabase::create(backend) {
            scenario(db.url());
        }
    }
}

#[test]
fn members_check_in_and_leave() {
    each_backend(|url| {
        let (_a_tmp, a_dir) = keys_dir(&[1, 2]);
        let (_b_tmp, b_dir) = keys_dir(&[1]);
        let a = member(url, "host-a", &a_dir);
        let b = member(url, "host-b", &b_dir);
        let mut db = Database::connect(url).unwrap();
        let seen = instances(&mut db, Duration::from_secs(60)).unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].host, "host-a");
        assert_eq!(seen[0].id, a.id());
        assert_eq!(seen[0].loaded_versions, [V1, V2]);
        assert_eq!(seen[1].loaded_versions, [V1]);
        assert_eq!(seen[1].pid, i64::from(std::process::id()));
        a.leave().unwrap();
        drop(b);
        assert!(
            instances(&mut db, Duration::from_secs(60))
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn the_recorded_active_version_wins_over_the_highest() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        record_active(&mut db, V1, "test").unwrap();
        let (_tmp, dir) = keys_dir(&[1, 2]);
        assert_eq!(dir.load(None).unwrap().active_version(), V2);
        let a = member(url, "host-a", &dir);
        // Applied before `join` returns: nothing is ever sealed with v2 here.
        assert_eq!(a.ring().active_version(), V1);
        record_active(&mut db, V2, "test").unwrap();
        a.check_now().unwrap();
        assert_eq!(a.ring().active_version(), V2);
        let record = recorded_active(&mut db).unwrap().unwrap();
        assert_eq!(record.version, V2);
        assert!(record.activated.unwrap().contains("by test"));
    });
}

#[test]
fn a_member_that_lacks_the_version_keeps_sealing_with_the_old_one() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        record_active(&mut db, V2, "test").unwrap();
        let (_tmp, dir) = keys_dir(&[1]);
        let b = member(url, "host-b", &dir);
        assert_eq!(b.ring().active_version(), V1);
        // The key file arrives: the next check reloads and applies v2.
        add_version(&dir, 2);
        b.check_now().unwrap();
        assert_eq!(b.ring().active_version(), V2);
    });
}

#[test]
fn activation_refuses_a_lagging_member_then_succeeds_once_it_has_the_key() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        record_active(&mut db, V1, "test").unwrap();
        let (_a_tmp, a_dir) = keys_dir(&[1, 2]);
        let (_b_tmp, b_dir) = keys_dir(&[1]);
        let a = member(url, "host-a", &a_dir);
        let _b = member(url, "host-b", &b_dir);

        let err =
            fleet::activate(&mut db, V2, "test", &staging(Duration::from_millis(500))).unwrap_err();
        let Error::InstancesLagging {
            activated,
            ref instances,
            ..
        } = err
        else {
            panic!("expected InstancesLagging, got {err}");
        };
        assert!(!activated);
        assert_eq!(instances.len(), 1, "{instances:?}");
        let message = err.to_string();
        assert!(
            message.contains("not activating key version v2"),
            "{message}"
        );
        assert!(message.contains("host host-b pid"), "{message}");
        assert!(message.contains("loaded v1;"), "{message}");
        assert!(message.contains("--force-activate"), "{message}");
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V1);
        assert_eq!(a.ring().active_version(), V1, "nothing was activated");

        add_version(&b_dir, 2);
        let done = fleet::activate(&mut db, V2, "test", &staging(Duration::from_secs(20))).unwrap();
        assert_eq!(done.previous, Some(V1));
        assert_eq!(done.instances.len(), 2);
        assert!(done.instances.iter().all(|i| i.active_version == V2));
        assert_eq!(a.ring().active_version(), V2);
    });
}

#[test]
fn force_activate_skips_the_wait() {
    each_backend(|url| {
        let mut db = Database::connect(url).unwrap();
        let (_tmp, dir) = keys_dir(&[1]);
        let _b = member(url, "host-b", &dir);
        let forced = fleet::activate(
            &mut db,
            V2,
            "test",
            &Staging {
                force: true,
                ..staging(Duration::from_secs(60))
            },
        )
        .unwrap();
        assert!(forced.forced);
        assert_eq!(recorded_active(&mut db).unwrap().unwrap().version, V2);
    });
}
