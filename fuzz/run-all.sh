#!/usr/bin/env bash
# Runs every fuzz target (or those named as arguments) for FUZZ_SECONDS seconds each
# (default 60), stops at the first crash, and prints each target's execution count.
#
#   fuzz/run-all.sh
#   FUZZ_SECONDS=600 fuzz/run-all.sh stripe_event calcom_event
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.." # cargo fuzz finds ./fuzz from the repository root

targets=(stripe_signature stripe_event calcom_event session_token oauth_callback email_address)
if [ "$#" -gt 0 ]; then
    targets=("$@")
fi

log_dir="$fuzz_dir/artifacts/logs"
mkdir -p "$log_dir"
summary=()

for t in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$t"
    mkdir -p "$corpus"
    corpora=("$corpus") # libFuzzer writes new inputs to the first directory only
    if [ -d "$fuzz_dir/seeds/$t" ]; then
        corpora+=("$fuzz_dir/seeds/$t")
    fi
    log="$log_dir/$t.log"

    echo "==> $t: ${FUZZ_SECONDS}s"
    if ! cargo +nightly fuzz run "$t" "${corpora[@]}" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 2>&1 | tee "$log"; then
        echo >&2
        echo "FAILED: $t crashed (or did not build/run). Log: $log" >&2
        echo "Failing inputs: $fuzz_dir/artifacts/$t/" >&2
        exit 1
    fi

    runs="$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second\(s\)' "$log" | tail -n 1 || true)"
    summary+=("$t: ${runs:-no \"Done … runs\" line in $log}")
done

echo
echo "No crash in ${#targets[@]} target(s), ${FUZZ_SECONDS}s each:"
printf '  %s\n' "${summary[@]}"
