#!/usr/bin/env bash
# Builds every libFuzzer target (hosted, -sanitize=fuzzer,address) and runs
# each for SECONDS (default 120) on a copy of its seed corpus; exits non-zero
# if any target crashes, traps, leaks or times out. Crash inputs and logs stay
# in build/fuzz/<target>/; the repository's corpus is never written to.
#
#   fuzz/run.sh [SECONDS]           every target
#   fuzz/run.sh SECONDS NAME...     only these
#
# A target is fuzz/<name>/*.swift (defining LLVMFuzzerTestOneInput) plus a
# seed corpus in fuzz/corpus/<name>/. Add it to TARGETS with the modules it
# imports, each as Module=source-directory, in dependency order; a module is
# built once per run and shared by the targets that list it. Modules are
# instrumented too, so the fuzzer sees coverage inside them.
set -euo pipefail

TARGETS=(
    "http: HTTP=Sources/HTTP"
    "net: Net=Sources/Net"
    "dhcpdns: Net=Sources/Net"
    "tcp: Net=Sources/Net"
)

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-120}"
shift || true
only=("$@")
export PATH="/opt/swift/usr/bin:$PATH"
out="$root/build/fuzz"
modules="$out/modules"
mkdir -p "$modules"
flags=(-sanitize=fuzzer,address -parse-as-library -O -swift-version 5 -enforce-exclusivity=unchecked)

declare -A built=()
build_module() {   # Module directory
    local name="$1" dir="$2"
    [[ -n "${built[$name]:-}" ]] && return
    echo "fuzz: building module $name"
    swiftc "${flags[@]}" -wmo -I "$modules" -module-name "$name" \
        -emit-module -emit-module-path "$modules/$name.swiftmodule" \
        -c "$dir"/*.swift -o "$modules/$name.o"
    built[$name]=1
}

failed=()
for entry in "${TARGETS[@]}"; do
    target="${entry%%:*}"
    if ((${#only[@]})) && [[ " ${only[*]} " != *" $target "* ]]; then continue; fi
    objects=()
    for module in ${entry#*:}; do
        build_module "${module%%=*}" "${module#*=}"
        objects+=("$modules/${module%%=*}.o")
    done
    dir="$out/$target"
    mkdir -p "$dir"
    echo "fuzz: building target $target"
    # Linked with the toolchain's lld: gold warns about every ASan helper symbol.
    swiftc "${flags[@]}" -use-ld=lld -I "$modules" fuzz/"$target"/*.swift "${objects[@]}" -o "$dir/fuzz-$target"

    # The fuzzer adds what it finds to its corpus directory: give it a copy.
    work="$(mktemp -d)"
    cp -r fuzz/corpus/"$target"/. "$work/"
    echo "fuzz: running $target for ${seconds}s (log: $dir/log.txt)"
    status=0
    # Swift's backtracer off, so that libFuzzer handles the crash and writes the input.
    SWIFT_BACKTRACE=enable=no "$dir/fuzz-$target" "$work" \
        -max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$dir/" >"$dir/log.txt" 2>&1 || status=$?
    rm -rf "$work"
    grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$dir/log.txt" | tail -3 | sed 's/^/  /'
    if ((status != 0)); then
        echo "fuzz: $target FAILED (status $status); inputs: $(ls "$dir"/crash-* "$dir"/timeout-* "$dir"/leak-* 2>/dev/null | tr '\n' ' ')"
        tail -30 "$dir/log.txt"
        failed+=("$target")
    else
        echo "fuzz: $target ok"
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: failures in ${failed[*]}"
    exit 1
fi
