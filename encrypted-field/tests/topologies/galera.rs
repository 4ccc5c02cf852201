//! A three-node MariaDB Galera cluster (`GALERA_NODE{1,2,3}_URL`): a rotation on node 1 while an
//! application writes to nodes 2 and 3 loses nothing; every node reads every row back as last
//! written and verifies clean.
//!
//! Galera certifies each transaction against the writes of the other nodes at COMMIT and aborts
//! the loser with error 1213: the rotation retries such a batch. `GET_LOCK` is local to one node:
//! the rotation lease, a row of the project's table, is replicated like any other, and so are the
//! chunks of a parallel pass and their leases: workers on every node share one pass.

use std::collections::BTreeMap;
use std::time::Duration;

use encrypted_field::KeyVersion;
use encrypted_field::rotation::database::Database;
use encrypted_field::rotation::{Error, Pacing, Rotation, RotationStatus};

use crate::support::{
    HoldAfterFirstRead, Keys, ScratchDatabase, SecretsTable, Writer, connect_when_there, merged,
    url,
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
    // A batch that loses certification to a write on node 2 or 3 is retried, never fails the run.
    let during = rotation
        .run(&mut Database::connect(&node1).unwrap(), &keys.ring_v2())
        .unwrap();
    let [w2, w3] = writers.map(Writer::stop);
    assert!(w2.writes > 0 && w3.writes > 0, "both nodes were written to");
    // Values the application wrote with v1 after the rotation passed them.
    let after = rotation
        .run(&mut Database::connect(&node1).unwrap(), &keys.ring_v2())
        .unwrap();

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
         and 3 ({} + {} retried after a certification conflict); the rotation retried {} batches",
        table.name,
        during.records_rewritten,
        during.records_changed_concurrently,
        w2.writes,
        w3.writes,
        w2.retried,
        w3.retried,
        during.conflicts_retried
    );
}

#[test]
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
            matches!(second, Err(Error::RotationInProgress { .. })),
            "{second:?}"
        );
        let first = first.join().unwrap().unwrap();
        assert_eq!(first.status, RotationStatus::Completed);
    });
    table.assert_reads_back(&mut causal(&node2), &keys.ring_v2(), &BTreeMap::new());
}

#[test]
fn certification_conflicts_are_retried_inside_the_run() {
    let Some((_database, [node1, node2, node3])) = nodes("galera_conflicts") else {
        return;
    };
    let keys = Keys::generate();
    // Few rows, written without pause from both other nodes: the rotation's batches lose
    // certification to those writes. Rotations back and forth between v1 and v2 until some have.
    let table = SecretsTable::create(&node1, "galera_conflicts", 200, &keys);
    let registry = table.registry();
    for node in [&node2, &node3] {
        assert_eq!(table.read_all(&mut causal(node)).len(), 200);
    }
    let writers = [
        Writer::start_unpaced(&node2, &table, &keys, 0, 2),
        Writer::start_unpaced(&node3, &table, &keys, 1, 2),
    ];
    let rings = [
        keys.ring_v2(),
        keys.ring_v2().with_active(KeyVersion::new(1)).unwrap(),
    ];
    let (mut runs, mut retried) = (0, 0);
    while retried == 0 && runs < 40 {
        let report = Rotation::new(&registry)
            .pacing(Pacing::fixed(50))
            .verify(false)
            .run(&mut Database::connect(&node1).unwrap(), &rings[runs % 2])
            .expect("a certification conflict is retried, never fails the run");
        assert_eq!(report.failed_records, 0, "{report:?}");
        retried += report.conflicts_retried;
        runs += 1;
    }
    let [w2, w3] = writers.map(Writer::stop);
    println!(
        "{}: {retried} batches retried after a certification conflict in {runs} rotations, beside \
         {} + {} writes",
        table.name, w2.writes, w3.writes
    );
    assert!(
        retried > 0,
        "no certification conflict arose in {runs} rotations"
    );
    let expected = merged(&[&w2, &w3]);
    for node in [&node1, &node2, &node3] {
        table.assert_reads_back(&mut causal(node), &keys.ring_v2(), &expected);
    }
}

#[test]
fn parallel_workers_on_three_nodes_share_one_pass() {
    let Some((_database, [node1, node2, node3])) = nodes("galera_workers") else {
        return;
    };
    let keys = Keys::generate();
    let table = SecretsTable::create(&node1, "galera_workers", ROWS, &keys);
    let registry = table.registry();
    for node in [&node2, &node3] {
        assert_eq!(table.read_all(&mut causal(node)).len(), 3_000, "{node}");
    }
    // The run on node 1 starts the pass; its worker is slow to connect, so that the workers
    // already waiting on nodes 2 and 3 take chunks too. Chunk leases taken at once on two nodes
    // conflict at certification: the loser is retried, then finds the chunk taken.
    let slow_connect = || {
        std::thread::sleep(Duration::from_millis(1500));
        Database::connect(&node1)
    };
    let (report, joined) = std::thread::scope(|scope| {
        let joiners = [&node2, &node3].map(|node| {
            let registry = &registry;
            let ring = keys.ring_v2();
            scope.spawn(move || {
                Rotation::new(registry)
                    .pacing(Pacing::fixed(50))
                    .wait_for_lease(Duration::from_secs(60))
                    .join(&mut causal(node), &ring, None)
                    .unwrap()
            })
        });
        let report = Rotation::new(&registry)
            .pacing(Pacing::fixed(50))
            .workers(1, &slow_connect)
            .chunk_rows(250)
            .run(&mut Database::connect(&node1).unwrap(), &keys.ring_v2())
            .unwrap();
        (report, joiners.map(|joiner| joiner.join().unwrap()))
    });
    assert_eq!(report.status, RotationStatus::Completed, "{report:?}");
    assert_eq!(
        report.records_rewritten, 3_000,
        "every value once: {report:?}"
    );
    for (node, joined) in ["node 2", "node 3"].iter().zip(&joined) {
        assert!(joined.joined && joined.chunks >= 1, "{node}: {joined:?}");
    }
    for node in [&node1, &node2, &node3] {
        let versions =
            table.assert_reads_back(&mut causal(node), &keys.ring_v2(), &BTreeMap::new());
        assert_eq!(
            versions,
            BTreeMap::from([(KeyVersion::new(2), 3_000)]),
            "{node}"
        );
    }
    println!(
        "{}: 12 chunks in the rewrite and 12 in the verification: node 2 scanned {}, node 3 {}, \
         node 1 the rest; {} batches retried",
        table.name, joined[0].chunks, joined[1].chunks, report.conflicts_retried
    );
}
