#!/usr/bin/env bash
# Prepares `make bench`: the load generator and the anchor filters written with the other SDKs. Idempotent.
#
#   fortio      Go module fortio.org/fortio, `go install`ed into .tools/bin (git-ignored)
#   Go SDK      bench/sdks/go        -> bench/build/headers-go.wasm    (GOOS=wasip1 GOARCH=wasm, c-shared)
#   solo AS     bench/sdks/solo-as   -> bench/build/headers-solo.wasm  (its own node_modules, AssemblyScript 0.14)
#   Rust SDK    bench/sdks/rust      -> bench/build/headers-rust.wasm  (needs the wasm32-wasip1 target)
#
# An SDK that cannot be built does not stop the others: bench/build/sdks.json records, per SDK, the module
# or the reason it is missing, and the bench reports that reason instead of a figure.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# fortio 1.69 and later import grol.io/grol, which the Go module proxy refuses to serve (403); 1.68.2 is the
# newest release without it.
FORTIO_VERSION="v1.68.2"

out="$root/bench/build"
mkdir -p "$out" "$root/.tools/bin"
status="$out/sdks.json.partial"
printf "{" > "$status"
first=1

# record <sdk> <wasm or ""> <version> <reason or "">
record() {
  local sep=","
  [[ $first == 1 ]] && sep="" && first=0
  node -e 'const [sep, sdk, wasm, version, reason] = process.argv.slice(1);
    process.stdout.write(`${sep}\n  ${JSON.stringify(sdk)}: ${JSON.stringify({ wasm: wasm || null, version, reason: reason || null })}`);' \
    "$sep" "$1" "$2" "$3" "$4" >> "$status"
}

step() { printf '\n==> %s\n' "$*"; }
tail_of() { tail -n 5 "$1" | tr '\n' ' ' | sed 's/  */ /g'; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step "fortio $FORTIO_VERSION (load generator)"
fortio="$root/.tools/bin/fortio"
if [[ -x "$fortio" ]] && [[ "v$("$fortio" version 2>/dev/null)" == "$FORTIO_VERSION" ]]; then
  echo "already installed"
elif ! command -v go >/dev/null 2>&1; then
  echo "setup-bench: fortio needs the Go toolchain (go >= 1.24) on PATH" >&2
  exit 1
else
  GOBIN="$root/.tools/bin" go install "fortio.org/fortio@$FORTIO_VERSION" || { echo "setup-bench: go install fortio.org/fortio@$FORTIO_VERSION failed" >&2; exit 1; }
fi

step "anchor filter, Go SDK (github.com/proxy-wasm/proxy-wasm-go-sdk)"
go_version="$(sed -n 's/^require github.com\/proxy-wasm\/proxy-wasm-go-sdk \(.*\)$/\1/p' bench/sdks/go/go.mod)"
if ! command -v go >/dev/null 2>&1; then
  record go "" "$go_version" "go is not on PATH"
elif (cd bench/sdks/go && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -buildvcs=false -o "$out/headers-go.wasm" .) >"$log" 2>&1; then
  record go "bench/build/headers-go.wasm" "$go_version ($(go env GOVERSION))" ""
  echo "bench/build/headers-go.wasm"
else
  cat "$log"
  record go "" "$go_version" "go build failed: $(tail_of "$log")"
fi

step "anchor filter, @solo-io/proxy-runtime (AssemblyScript 0.14, isolated in bench/sdks/solo-as)"
solo_dir=bench/sdks/solo-as
solo_version="$(node -p 'require("./bench/sdks/solo-as/package.json").devDependencies["@solo-io/proxy-runtime"]')"
if [[ ! -d $solo_dir/node_modules/@solo-io/proxy-runtime ]] || [[ $solo_dir/package-lock.json -nt $solo_dir/node_modules/.package-lock.json ]]; then
  (cd $solo_dir && npm ci --no-audit --no-fund) >"$log" 2>&1 || { cat "$log"; }
fi
if [[ ! -x $solo_dir/node_modules/.bin/asc ]]; then
  record solo-as "" "$solo_version" "npm ci in $solo_dir failed: $(tail_of "$log")"
elif (cd $solo_dir && node_modules/.bin/asc assembly/index.ts -b "$out/headers-solo.wasm" -O3 --use abort=abort_proc_exit) >"$log" 2>&1; then
  record solo-as "bench/build/headers-solo.wasm" "$solo_version (AssemblyScript $(node -p 'require("./bench/sdks/solo-as/node_modules/assemblyscript/package.json").version'))" ""
  echo "bench/build/headers-solo.wasm"
else
  cat "$log"
  record solo-as "" "$solo_version" "asc failed: $(tail_of "$log")"
fi

step "anchor filter, Rust SDK (crate proxy-wasm)"
rust_version="$(sed -n 's/^proxy-wasm = "=\(.*\)"$/\1/p' bench/sdks/rust/Cargo.toml)"
rust_reason=""
if ! command -v cargo >/dev/null 2>&1; then
  rust_reason="cargo is not on PATH"
elif command -v rustup >/dev/null 2>&1; then
  # The target's standard library comes from the Rust distribution server, not from crates.io: on a
  # machine that reaches only package registries this step fails, and the Rust case is reported missing.
  if ! rustup target list --installed 2>/dev/null | grep -x wasm32-wasip1 >/dev/null; then
    timeout 300 rustup target add wasm32-wasip1 >"$log" 2>&1 || rust_reason="rustup target add wasm32-wasip1 failed: $(tail_of "$log")"
  fi
elif ! rustc --print target-list 2>/dev/null | grep -x wasm32-wasip1 >/dev/null; then
  rust_reason="no rustup, and this rustc has no wasm32-wasip1 target"
fi
if [[ -z $rust_reason ]]; then
  if (cd bench/sdks/rust && cargo build --release --locked --target wasm32-wasip1) >"$log" 2>&1; then
    cp bench/sdks/rust/target/wasm32-wasip1/release/bench_headers_rust.wasm "$out/headers-rust.wasm"
    record rust "bench/build/headers-rust.wasm" "$rust_version ($(rustc --version | cut -d' ' -f1-2))" ""
    echo "bench/build/headers-rust.wasm"
  else
    cat "$log"
    rust_reason="cargo build failed: $(tail_of "$log")"
  fi
fi
[[ -n $rust_reason ]] && { echo "$rust_reason"; record rust "" "$rust_version" "$rust_reason"; }

printf '\n}\n' >> "$status"
mv "$status" "$out/sdks.json"
echo
cat "$out/sdks.json"
