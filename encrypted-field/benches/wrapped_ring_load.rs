//! Keys wrapped by a KMS or an HSM: what a ring load costs through each provider, beside the raw
//! limit measured in the same run (the provider's own unwrap calls alone, no file, no ring), and
//! what sealing and opening a value cost with a ring loaded through a provider versus the same
//! keys given in plain (the provider is never on the value path).
//!
//! - PKCS#11: a SoftHSM2 token of the bench's own (the bench runs itself again as a child with
//!   `SOFTHSM2_CONF`, `PKCS11_MODULE` and `PKCS11_PIN` set, as the tests do);
//! - AWS KMS: the moto server at `AWS_ENDPOINT_URL` (with `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), as `.ci/run` starts it.
//!
//! Run: `moto_server -H 127.0.0.1 -p 45123 &` then
//! `AWS_ENDPOINT_URL=http://127.0.0.1:45123 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
//! AWS_REGION=us-east-1 cargo bench -p encrypted-field --features aws-kms,pkcs11 --bench wrapped_ring_load`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../tests/wrapped_keys/moto.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../tests/wrapped_keys/softhsm.rs"]
mod softhsm;

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use encrypted_field::keys::KeysDir;
use encrypted_field::keys::wrap::{
    AwsKmsWrapper, KeyWrapper, KeyWrappers, Pkcs11Wrapper, WrappedKeyFile,
};
use encrypted_field::{KeyRing, KeyVersion};

const CHILD: &str = "ENCRYPTED_FIELD_BENCH_SOFTHSM_CHILD";
const LOADS: usize = 20;
const VERSIONS: u32 = 3;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches: there is nothing to list here.
    }
    if std::env::var_os(CHILD).is_none() {
        run_in_token();
        return;
    }
    softhsm::generate_kek("bench-kek");
    let pkcs11: Arc<dyn KeyWrapper> = Arc::new(Pkcs11Wrapper::from_env());
    let pkcs11_uri = softhsm::uri("bench-kek");
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL names the moto server (see the header of this file)");
    let (_, _, alias) = moto::create_key(&endpoint, "bench");
    let aws: Arc<dyn KeyWrapper> = Arc::new(AwsKmsWrapper::from_env());
    let aws_uri = format!("aws-kms://{alias}");

    println!("ring load, {VERSIONS} wrapped versions, median of {LOADS} (min-max), ms:");
    println!(
        "| provider | ring load | raw limit: {VERSIONS} unwrap calls alone | plain files, same run |"
    );
    println!("|---|---|---|---|");
    let mut rings = Vec::new();
    for (name, wrapper, uri) in [
        ("pkcs11 (SoftHSM2)", pkcs11, pkcs11_uri),
        ("aws-kms (moto)", aws, aws_uri),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(tmp.path().join("keys"))
            .with_wrappers(KeyWrappers::empty().with(wrapper.clone()));
        for _ in 0..VERSIONS {
            keys.add_wrapped(&uri, true).unwrap();
        }
        let load = timings(|| {
            black_box(keys.load(None).unwrap());
        });
        let files: Vec<WrappedKeyFile> = (1..=VERSIONS)
            .map(|v| {
                WrappedKeyFile::read(&keys.path().join(format!("enc_key_v{v}.wrapped"))).unwrap()
            })
            .collect();
        let raw = timings(|| {
            for (v, file) in (1..=VERSIONS).zip(&files) {
                let wrapped = encrypted_field::keys::wrap::Wrapped::new(
                    file.algorithm.clone(),
                    base64_decode(&file.wrapped),
                );
                black_box(
                    wrapper
                        .unwrap(&file.key_uri, KeyVersion::new(v), &wrapped)
                        .unwrap(),
                );
            }
        });
        let plain_dir = tempfile::tempdir().unwrap();
        let plain = KeysDir::new(plain_dir.path().join("keys"));
        for _ in 0..VERSIONS {
            plain.add(true).unwrap();
        }
        let plain_load = timings(|| {
            black_box(plain.load(None).unwrap());
        });
        println!(
            "| {name} | {} | {} | {} |",
            shown(&load),
            shown(&raw),
            shown(&plain_load)
        );
        rings.push((name, keys.load(None).unwrap()));
    }

    println!();
    println!("seal + open 64 B, ns per value, median of 7 runs of 100,000 (interleaved):");
    println!("| ring | ns per value |");
    println!("|---|---|");
    for (name, wrapped_ring) in &rings {
        let plain_ring = plain_copy(wrapped_ring);
        let mut wrapped_runs = Vec::new();
        let mut plain_runs = Vec::new();
        for _ in 0..7 {
            wrapped_runs.push(seal_open(wrapped_ring));
            plain_runs.push(seal_open(&plain_ring));
        }
        println!(
            "| loaded through {name} | {:.0} |",
            median_f(&mut wrapped_runs)
        );
        println!(
            "| the same keys, built in plain | {:.0} |",
            median_f(&mut plain_runs)
        );
    }
}

/// Runs this bench again with a fresh SoftHSM2 token's environment.
fn run_in_token() {
    let module = softhsm::module().expect("SoftHSM2 is installed (apt-get install softhsm2)");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            softhsm::TOKEN,
            "--so-pin",
            "5678",
            "--pin",
            softhsm::PIN,
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .env("SOFTHSM2_CONF", &conf)
        .env("PKCS11_MODULE", &module)
        .env("PKCS11_PIN", softhsm::PIN)
        .status()
        .unwrap();
    assert!(status.success());
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// The same keys as `ring`, built in code (no provider).
fn plain_copy(ring: &KeyRing) -> KeyRing {
    let mut builder = KeyRing::builder().active(ring.active_version());
    for version in ring.versions() {
        builder = builder.key(version, ring.master_key(version).unwrap().clone());
    }
    builder.build().unwrap()
}

/// Nanoseconds per seal-and-open of 64 bytes, over 100,000 values.
fn seal_open(ring: &KeyRing) -> f64 {
    const N: u32 = 100_000;
    let plaintext = [0x5a_u8; 64];
    let start = Instant::now();
    for _ in 0..N {
        let sealed =
            ring.encrypt_with_context(black_box(&plaintext), "phone_requests.phone_number");
        black_box(
            ring.decrypt_with_context(&sealed, "phone_requests.phone_number")
                .unwrap(),
        );
    }
    start.elapsed().as_nanos() as f64 / f64::from(N)
}

fn timings(mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm-up: the module is loaded, the connection made
    let mut all: Vec<Duration> = (0..LOADS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    all.sort();
    all
}

fn shown(sorted: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.2} ({:.2}-{:.2})",
        ms(sorted[sorted.len() / 2]),
        ms(sorted[0]),
        ms(sorted[sorted.len() - 1])
    )
}

fn median_f(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
