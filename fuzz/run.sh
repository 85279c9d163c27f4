#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) from the seed corpus, on stable Rust
# (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags). Needs: cargo install cargo-fuzz.
# Crashes land in fuzz/artifacts/<target>/ and make this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-60}
status=0
for target in receive_binary receive_json frame_decoder webhook_body; do
  mkdir -p "corpus/$target"
  echo "=== $target ($seconds s)"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==|SUMMARY|artifact_prefix|Test unit written)" || status=1
done
exit $status
