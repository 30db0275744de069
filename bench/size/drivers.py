#!/usr/bin/env python3
"""Bytes each driver adds to an image: sums the sizes of the symbols of an
unstripped image (nm --size-sort -S) by the module or type they belong to.
Usage: drivers.py IMAGE.dbg.elf PREFIX   (prints `PREFIX_<part>_bytes N bytes`)"""
import subprocess, sys

image, prefix = sys.argv[1], sys.argv[2]
# Swift mangling abbreviates a repeated module name: Virtio.VirtioBlock is
# "6Virtio0A5Block"; everything in the PCVirtio module is the pc transports.
parts = {
    "virtio_blk": ["6Virtio0A5Block"],
    "virtio_net": ["6Virtio0A3Net"],
    "pci_mmio_transports": ["8PCVirtio"],
    "virtqueue": ["6Virtio"],  # the rest of the module: rings, negotiation, MMIO declarations
}
totals = {name: 0 for name in parts}
nm = subprocess.run(["nm", "-S", "--size-sort", image], capture_output=True, text=True, check=True).stdout
for line in nm.splitlines():
    fields = line.split()
    if len(fields) != 4:
        continue
    size, name = int(fields[1], 16), fields[3]
    for part, markers in parts.items():  # first match wins: the order above matters
        if any(marker in name for marker in markers):
            totals[part] += size
            break
for part, size in totals.items():
    print(f"{prefix}_{part}_bytes {size} bytes")
