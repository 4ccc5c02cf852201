//! Encrypt and decrypt throughput of format v1, beside the raw limit of its primitives
//! (AES-256-CBC encryption and HMAC-SHA256 of the same bytes) measured in the same run, and the
//! cost of one blind index and of binding a value to its row (`envelope_row`).
//!
//! Run: `cargo bench -p encrypted-field --bench envelope`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use encrypted_field::{BlindIndexKey, KeyRing, MasterKey, RowKey};
use hmac::Mac as _;

const SIZES: [usize; 3] = [12, 64, 4096];
const CONTEXT: &str = "phone_requests.phone_number";

fn envelope(c: &mut Criterion) {
    let ring = KeyRing::builder()
        .key(1, MasterKey::generate())
        .build()
        .unwrap();
    let mut group = c.benchmark_group("envelope");
    for size in SIZES {
        let plaintext = vec![0x5a_u8; size];
        let sealed = ring.encrypt_with_context(&plaintext, CONTEXT);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &plaintext, |b, p| {
            b.iter(|| ring.encrypt_with_context(black_box(p), CONTEXT))
        });
        group.bench_with_input(BenchmarkId::new("decrypt", size), &sealed, |b, s| {
            b.iter(|| ring.decrypt_with_context(black_box(s), CONTEXT).unwrap())
        });
    }
    group.finish();
}

/// The same as `envelope` for 12 and 64 bytes, bound to a row (`bind_row`): what the longer,
/// row-bound context costs beside `envelope/*` of the same run.
fn row_bound(c: &mut Criterion) {
    let ring = KeyRing::builder()
        .key(1, MasterKey::generate())
        .build()
        .unwrap();
    let row = RowKey::from(1_234_567_i64);
    let mut group = c.benchmark_group("envelope_row");
    for size in [12, 64] {
        let plaintext = vec![0x5a_u8; size];
        let sealed = ring.try_encrypt_for_row(&plaintext, CONTEXT, &row).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &plaintext, |b, p| {
            b.iter(|| {
                ring.try_encrypt_for_row(black_box(p), CONTEXT, &row)
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("decrypt", size), &sealed, |b, s| {
            b.iter(|| ring.decrypt_for_row(black_box(s), CONTEXT, &row).unwrap())
        });
    }
    group.finish();
}

/// The same ring as the process-wide one, which reloads: what reading it costs beside a decrypt
/// with the ring in hand (`global` alone; `decrypt` through it, 64 B, against `envelope/decrypt/64`).
fn process_wide_ring(c: &mut Criterion) {
    let ring = KeyRing::builder()
        .key(1, MasterKey::generate())
        .build()
        .unwrap();
    let sealed = ring.encrypt_with_context(&[0x5a_u8; 64], CONTEXT);
    encrypted_field::install(ring).unwrap();
    let mut group = c.benchmark_group("process_wide_ring");
    group.bench_function("global", |b| b.iter(|| encrypted_field::global().unwrap()));
    group.bench_function("decrypt/64", |b| {
        b.iter(|| {
            encrypted_field::global()
                .unwrap()
                .decrypt_with_context(black_box(&sealed), CONTEXT)
                .unwrap()
        })
    });
    group.finish();
}

/// One blind index of a phone number: the HMAC of the value under its column's key.
fn blind_index(c: &mut Criterion) {
    let key = BlindIndexKey::new(MasterKey::generate());
    let mut group = c.benchmark_group("blind_index");
    group.bench_function("compute", |b| {
        b.iter(|| key.compute(black_box(CONTEXT), black_box(b"15550100")))
    });
    group.finish();
}

/// The raw limit: what AES-256-CBC and HMAC-SHA256 alone cost on the same bytes.
fn primitives(c: &mut Criterion) {
    let key = [7u8; 32];
    let iv = [9u8; 16];
    let mut group = c.benchmark_group("primitives");
    for size in SIZES {
        let plaintext = vec![0x5a_u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("aes256cbc_encrypt", size),
            &plaintext,
            |b, p| {
                let mut buf = vec![0u8; size + 16];
                b.iter(|| {
                    let enc = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into());
                    enc.encrypt_padded_b2b_mut::<Pkcs7>(black_box(p), &mut buf)
                        .map(<[u8]>::len)
                        .unwrap()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("hmac_sha256", size), &plaintext, |b, p| {
            let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            b.iter(|| {
                let mut m = mac.clone();
                m.update(black_box(p));
                m.finalize().into_bytes()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    envelope,
    row_bound,
    process_wide_ring,
    blind_index,
    primitives
);
criterion_main!(benches);
