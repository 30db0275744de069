#!/usr/bin/env bash
# Builds the heap benchmark into build/bench/ and runs it (hosted, -O).
# Heap is compiled as its own module, as the kernel links it. Output lines:
# `NAME VALUE UNIT` on stdout, a checksum on stderr. Run from anywhere.
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
