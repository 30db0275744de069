#!/usr/bin/env bash
# Builds the heap benchmark into build/bench/ and runs it (hosted, -O).
# Heap is compiled as its own module, as the kernel links it. Output lines:
# `NAME VALUE UNIT` on stdout, a checksum on stderr. A second run with
# glibc's per-thread cache off adds `glibc_notcache_pair_ns`, the cost of
# glibc's own coalescing allocator on the same workload, for context.
# Run from anywhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out=build/bench
mkdir -p "$out"
swiftc -O -wmo -parse-as-library -swift-version 5 -module-name Heap \
  -emit-module -emit-module-path "$out/Heap.swiftmodule" \
  -c Sources/Heap/*.swift -o "$out/Heap.o"
swiftc -O -parse-as-library -swift-version 5 -I "$out" \
  bench/heap/main.swift "$out/Heap.o" -o "$out/heap_bench"
"$out/heap_bench"
GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$out/heap_bench" 2>/dev/null \
  | sed -n 's/^glibc_pair_ns /glibc_notcache_pair_ns /p'
