#!/usr/bin/env python3
"""Idle CPU of a sleeping guest: runs COMMAND (the threads app's `idle S`
scenario under QEMU or the monitor), waits for its "idle: sleeping" line,
then reads the process's CPU time (user + system of all its threads,
/proc/PID/stat, in clock ticks: 10 ms resolution, 0.2% over 5 s) until
"idle: awake". Prints the share of one host core used while the guest
slept, in percent.
Usage: idle.py NAME COMMAND..."""
import os, subprocess, sys, time

TICK = os.sysconf("SC_CLK_TCK")

def cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // TICK

name, command = sys.argv[1], sys.argv[2:]
process = subprocess.Popen(["timeout", "60"] + command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
# timeout(1) forks the real process: measure its child.
start = None
for raw in process.stdout:
    line = raw.decode(errors="replace")
    if "idle: sleeping" in line:
        children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
        target = int(children[0]) if children else process.pid
        start = (time.monotonic(), cpu_ns(target))
    if "idle: awake" in line and start:
        wall = time.monotonic() - start[0]
        used = cpu_ns(target) - start[1]
        print(f"idle_cpu_{name}_percent {100 * used / 1e9 / wall:.2f} %")
        break
process.wait()
if start is None:
    print(f"note: {name}: the guest never said 'idle: sleeping'", file=sys.stderr)
