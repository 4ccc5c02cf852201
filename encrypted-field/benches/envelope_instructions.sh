#!/usr/bin/env bash
# Instructions per envelope operation, counted by callgrind, for an earlier revision and for the
# work tree: a comparison that the machine's load cannot blur (criterion's wall-clock figures
# spread by up to 30% between two runs of one binary on the shared 2-core machines).
#
# Usage: bash encrypted-field/benches/envelope_instructions.sh [REVISION]   (default: 675b938)
#
# Each side is a tiny program on the library's public API (no default features) run with N = 0 and
# N = 2000 operations; the difference over 2000 is the cost of one operation, start-up excluded.
# valgrind does not offer SHA-NI to the program, so SHA-256 runs its portable code here: the
# absolute difference between the two sides is what carries over to other machines.
set -euo pipefail
revision="${1:-675b938}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$repo" worktree add --quiet --detach "$work/before" "$revision"

program() { # $1: name, $2: path of the encrypted-field crate
  mkdir -p "$work/program-$1/src"
  cat > "$work/program-$1/Cargo.toml" <<TOML
[package]
name = "icount-$1"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
encrypted-field = { path = "$2", default-features = false }
[profile.release]
debug = 1
[workspace]
TOML
  cat > "$work/program-$1/src/main.rs" <<'RUST'
use std::hint::black_box;
use encrypted_field::{KeyRing, MasterKey};
const CONTEXT: &str = "phone_requests.phone_number";
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (what, n, size) = (args[1].as_str(), args[2].parse::<usize>()?, args[3].parse::<usize>()?);
    let ring = KeyRing::builder().key(1, MasterKey::generate()).build()?;
    let plaintext = vec![0x5a_u8; size];
    let sealed = ring.encrypt_with_context(&plaintext, CONTEXT);
    match what {
        "encrypt" => for _ in 0..n { black_box(ring.encrypt_with_context(black_box(&plaintext), CONTEXT)); },
        "decrypt" => for _ in 0..n { black_box(ring.decrypt_with_context(black_box(&sealed), CONTEXT)?); },
        _ => {
            encrypted_field::install(ring)?;
            for _ in 0..n { black_box(encrypted_field::global()?.decrypt_with_context(black_box(&sealed), CONTEXT)?); }
        }
    }
    Ok(())
}
RUST
  cargo build --quiet --release --manifest-path "$work/program-$1/Cargo.toml" --target-dir "$work/target-$1"
}
program before "$work/before/encrypted-field"
program after "$repo/encrypted-field"

count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
printf '| operation | size | %s | work tree | difference |\n|---|---:|---:|---:|---:|\n' "$revision"
for what in encrypt decrypt global_decrypt; do
  for size in 12 64 4096; do
    per_op=()
    for side in before after; do
      bin="$work/target-$side/release/icount-$side"
      zero=$(count "$bin" "$what" 0 "$size"); many=$(count "$bin" "$what" 2000 "$size")
      per_op+=($(( (many - zero) / 2000 )))
    done
    printf '| %s | %s B | %s | %s | %+d (%s%%) |\n' "$what" "$size" "${per_op[0]}" "${per_op[1]}" \
      $(( per_op[1] - per_op[0] )) "$(python3 -c "print(f'{100*(${per_op[1]}-${per_op[0]})/${per_op[0]}:+.1f}')")"
  done
done
