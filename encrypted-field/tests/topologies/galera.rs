//! A three-node MariaDB Galera cluster (`GALERA_NODE{1,2,3}_URL`): a rotation on node 1 while an
//! application writes to nodes 2 and 3 loses nothing; every node reads every row back as last
//! written and verifies clean.
//!
//! Galera certifies each transaction against the writes of the other nodes at COMMIT and aborts
//! the loser with error 1213; `GET_LOCK` is local to one node. What the rotation lease and its
//! retries (issue 13) change is in the ignored tests at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Error, Pacing, Rotation, RotationReport, RotationStatus};
use encrypted_field::{KeyRing, KeyVersion};

use crate::support::{
    HoldAfterFirstRead, Keys, ScratchDatabase, SecretsTable, Writer, connect_when_there,
    is_transient, merged, url,
};

const ROWS: i64 = 3_000;

/// A database of the test's own on the cluster (created on node 1), and the three nodes' URLs
/// to it; `None` (skipped) when they are not set.
fn nodes(base: &str) -> Option<(ScratchDatabase, [String; 3])> {
    let nodes = [
        url("GALERA_NODE1_URL")?,
        url("GALERA_NODE2_URL")?,
        url("GALERA_NODE3_URL")?,
    ];
    let database = ScratchDatabase::create(&nodes[0], base);
    let urls = nodes.map(|node| database.url(&node));
    Some((database, urls))
}

/// A connection whose reads wait until the node has applied every transaction the cluster
/// committed before them (`wsrep_sync_wait = 1`): what a node holds "now", not a lagging view.
fn causal(url: &str) -> Database {
    let mut db = connect_when_there(url);
    db.execute("SET SESSION wsrep_sync_wait = 1").unwrap();
    db
}

/// Runs `rotation` on `url` to the end, running it again when it fails on a transient conflict
/// (as an operator's retry does today: the run is resumable). Returns the last report and how many
/// runs failed that way.
fn rotate_until_done(
    url: &str,
    rotation: &Rotation<'_>,
    ring: &KeyRing,
) -> (RotationReport, usize) {
    let mut failed_runs = 0;
    loop {
        let mut db = Database::connect(url).unwrap();
        match rotation.run(&mut db, ring) {
            Ok(report) => return (report, failed_runs),
            Err(Error::Database { action, source }) if is_transient(&source.to_string()) => {
                failed_runs += 1;
                assert!(
                    failed_runs < 50,
                    "{failed_runs} runs failed on conflicts; last: {action}: {source}"
                );
            }
            Err(e) => panic!("rotation on {url}: {e}"),
        }
    }
}

#[test]
fn rotation_on_node_1_while_the_application_writes_to_nodes_2_and_3_loses_nothing() {
    let Some((_database, [node1, node2, node3])) = nodes("galera") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&node1, "galera", ROWS, &keys);
    let registry = table.registry();
    // Every node holds every row before the application writes to it.
    for node in [&node2, &node3] {
        assert_eq!(table.read_all(&mut causal(node)).len(), 3_000, "{node}");
    }

    let writers = [
        Writer::start(&node2, &table, &keys, 0, 2),
        Writer::start(&node3, &table, &keys, 1, 2),
    ];
    std::thread::sleep(Duration::from_millis(200));
    let rotation = Rotation::new(&registry).pacing(Pacing::fixed(100));
    let (during, failed_runs) = rotate_until_done(&node1, &rotation, &keys.ring_v2());
    let [w2, w3] = writers.map(Writer::stop);
    assert!(w2.writes > 0 && w3.writes > 0, "both nodes were written to");
    // Values the application wrote with v1 after the rotation passed them.
    let (after, _) = rotate_until_done(&node1, &rotation, &keys.ring_v2());

    let expected = merged(&[&w2, &w3]);
    for node in [&node1, &node2, &node3] {
        let versions = table.assert_reads_back(&mut causal(node), &keys.ring_v2(), &expected);
        assert_eq!(
            versions,
            BTreeMap::from([(KeyVersion::new(2), 3_000)]),
            "{node}"
        );
        let verified = Rotation::new(&registry)
            .verify_only(&mut Database::connect(node).unwrap(), &keys.ring_v2())
            .unwrap();
        assert_eq!(
            verified.status,
            RotationStatus::Completed,
            "{node}: {verified:?}"
        );
        assert_eq!(verified.failed_records, 0, "{node}");
    }
    // The first run's verification may find values the application wrote with v1 meanwhile
    // (status `failed`), never one that does not open; the second finds none.
    assert_eq!(during.failed_records, 0, "{during:?}");
    assert_eq!(after.status, RotationStatus::Completed, "{after:?}");
    println!(
        "{}: rotation rewrote {} values ({} changed concurrently) beside {} + {} writes on nodes 2 \
         and 3 ({} + {} retried after a certification conflict); {failed_runs} rotation runs failed \
         on a conflict and were run again",
        table.name,
        during.records_rewritten,
        during.records_changed_concurrently,
        w2.writes,
        w3.writes,
        w2.retried,
        w3.retried
    );
}

#[test]
#[ignore = "needs the lease from i13-lease: GET_LOCK is local to one Galera node"]
fn a_second_rotation_on_node_2_is_refused_while_node_1_rotates() {
    let Some((_database, [node1, node2, _])) = nodes("galera_lock") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&node1, "galera_lock", 500, &keys);
    let registry = table.registry();
    let hold = HoldAfterFirstRead::new();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            Rotation::new(&registry)
                .pacing(Pacing::fixed(100))
                .progress(&hold)
                .run(&mut Database::connect(&node1).unwrap(), &keys.ring_v2())
        });
        hold.wait_until_held();
        let second = Rotation::new(&registry).run(&mut causal(&node2), &keys.ring_v2());
        hold.go_on();
        assert!(
            matches!(second, Err(Error::RotationInProgress)),
            "{second:?}"
        );
        let first = first.join().unwrap().unwrap();
        assert_eq!(first.status, RotationStatus::Completed);
    });
    table.assert_reads_back(&mut causal(&node2), &keys.ring_v2(), &BTreeMap::new());
}

#[test]
#[ignore = "needs the retries from i13-lease: today a certification failure fails the run"]
fn certification_conflicts_are_retried_inside_the_run() {
    let Some((_database, [node1, node2, node3])) = nodes("galera_conflicts") else {
        return;
    };
    let keys = Keys::generate();
    // Few rows, written hard from both other nodes: conflicts with the rotation's batches are
    // certain.
    let table = SecretsTable::create(&node1, "galera_conflicts", 300, &keys);
    let registry = table.registry();
    for node in [&node2, &node3] {
        assert_eq!(table.read_all(&mut causal(node)).len(), 300);
    }
    let writers = [
        Writer::start(&node2, &table, &keys, 0, 2),
        Writer::start(&node3, &table, &keys, 1, 2),
    ];
    std::thread::sleep(Duration::from_millis(200));
    let report = Rotation::new(&registry)
        .pacing(Pacing::fixed(20))
        .run(&mut Database::connect(&node1).unwrap(), &keys.ring_v2());
    let [w2, w3] = writers.map(Writer::stop);
    let report = report.expect("a certification conflict is retried, never fails the run");
    assert_eq!(report.status, RotationStatus::Completed);
    let expected = merged(&[&w2, &w3]);
    for node in [&node1, &node2, &node3] {
        table.assert_reads_back(&mut causal(node), &keys.ring_v2(), &expected);
    }
}
