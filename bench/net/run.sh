#!/usr/bin/env bash
# bench/net/run.sh hosted|pc|hvt [COUNT] [SECONDS]: frames per second
# through NetEcho on tap0 inside a network namespace of its own - the hosted
# release build, the pc image under QEMU TCG (virtio-net, modern PCI on -M
# pc) or the hvt image under swiftlet-hvt - measured by bench/net/reflect.py
# (COUNT frames per size, default 1000000; at most SECONDS per size, default
# 5). Prints reflect.py's `NAME VALUE UNIT` lines with NAME the kind; notes
# go to stderr.
# Nothing outside the namespace gets an address or sees a frame; the
# namespace is deleted on every exit, failures included. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
KIND=${1:?usage: bench/net/run.sh hosted|pc|hvt [COUNT] [SECONDS]}
COUNT=${2:-1000000}
PER_SIZE=${3:-5}
PATH=$PATH:/opt/swift/usr/bin
case "$KIND" in
    hosted)
        NETECHO=.build/release/NetEcho
        [ -x "$NETECHO" ] || swift build -c release --product NetEcho >&2
        REFLECTOR=("$NETECHO" --net:service=tap0) ;;
    pc) REFLECTOR=(.build/release/swiftlet run --machine pc --timeout 110 --net tap0,bus=pci-modern build/pc/netecho.elf) ;;
    hvt) REFLECTOR=(.build/release/swiftlet-hvt --mem=8 --net:service=tap0 build/hvt/netecho.elf) ;;
    *) echo "bench/net/run.sh: unknown kind $KIND" >&2; exit 2 ;;
esac

NS=swiftlet-bench-net-$$
LOG=$(mktemp)
ECHO_PID=
cleanup() {
    if [ -n "$ECHO_PID" ]; then kill "$ECHO_PID" 2>/dev/null || true; wait "$ECHO_PID" 2>/dev/null || true; fi
    ip netns del "$NS" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up   # the runner (Foundation) wants its loopback
ip netns exec "$NS" ip tuntap add tap0 mode tap
# No IPv6 on the tap: the kernel's router solicitations would be reflected too.
ip netns exec "$NS" sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 || true
ip netns exec "$NS" ip link set tap0 up
# NetEcho ends on the STOP frame reflect.py sends last (or after 30 s without frames).
timeout 120 ip netns exec "$NS" "${REFLECTOR[@]}" >"$LOG" 2>&1 &
ECHO_PID=$!
ip netns exec "$NS" timeout 300 python3 bench/net/reflect.py tap0 "$COUNT" --name "$KIND" --seconds "$PER_SIZE"
status=0
wait "$ECHO_PID" || status=$?
ECHO_PID=
sed 's/^/note: /' "$LOG" >&2
if [ "$status" -ne 0 ]; then echo "bench/net/run.sh: the $KIND NetEcho ended with status $status" >&2; exit 1; fi
