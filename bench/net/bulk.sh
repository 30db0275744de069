#!/usr/bin/env bash
# bench/net/bulk.sh: the TCP bulk figures of `make bench` (needs root).
# One client program, bench/net/bulk.py, against
#   - a Linux peer: bulk.py's own server in a second namespace across a veth
#     (Linux TCP on both ends, MTU 1500, the kernel's offloads on);
#   - our stack, hosted: the EchoService release build on a tap;
#   - our stack on pc: the echo image under QEMU TCG (virtio-net, modern PCI);
# each in both directions: discard (TCP port 9, client -> server) and chargen
# (TCP port 19, server -> client), ${BENCH_NET_SECONDS:-3} s each; Gbps of
# payload, and ours over Linux's.
# For reference, iperf3 between the same two Linux namespaces (installed with
# apt-get when missing; skipped with a note when that fails).
# Every process runs under timeout; namespaces and processes go on every
# exit (bench/net/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
if [ "$(id -u)" != 0 ]; then echo "note: the bulk figures need root (network namespaces)" >&2; exit 0; fi
. bench/net/lib.sh
SECONDS_PER_RUN=${BENCH_NET_SECONDS:-3}
RUNNER=.build/release/swiftlet

timeout 900 swift build -c release --product EchoService >"$NET_TMP/build.log" 2>&1 || {
    echo "note: swift build of EchoService failed: no bulk figures: $(grep -m1 error: "$NET_TMP/build.log")" >&2
    exit 0
}
[ -x "$RUNNER" ] || timeout 900 swift build -c release --product swiftlet >/dev/null
have_iperf3=yes; net_need iperf3 iperf3 || have_iperf3=

net_setup swiftlet-bench-bulk peer

# client NAME HOST MODE: one bulk.py run from the client namespace; its
# figure goes to $FIGURES; status 3 when the service refused the connection.
FIGURES=$NET_TMP/figures
: >"$FIGURES"
client() {
    ip netns exec "$NS" timeout $((SECONDS_PER_RUN + 30)) \
        python3 bench/net/bulk.py client "$2" "$3" "$1" --seconds "$SECONDS_PER_RUN" >>"$FIGURES" 2>"$NET_TMP/client.log"
}

# measure NAME HOST: discard, then chargen, against HOST.
measure() {
    for mode in discard chargen; do client "$1" "$2" "$mode" || net_log "$NET_TMP/client.log"; done
}

# Linux's peer: the same script's server, across the veth.
net_background_peer 150 python3 bench/net/bulk.py server 10.0.1.2 --seconds 140
for i in $(seq 50); do
    ip netns exec "$PEER" python3 -c 'import socket; socket.create_connection(("10.0.1.2", 9), 1).close()' 2>/dev/null && break
    sleep 0.1
done

# guest NAME COMMAND...: our echo service started on the tap, measured, stopped.
guest() {
    local name=$1 status=0; shift
    net_background 150 "$@"
    local pid=$LAST_PID log=$LAST_LOG
    if net_wait_ping 10.0.0.2 "$pid"; then
        measure "$name" 10.0.0.2
    else
        echo "note: the $name echo service never answered ping: no $name bulk figures" >&2
    fi
    ip netns exec "$NS" python3 bench/net/bulk.py stop 10.0.0.2 || true
    net_stop "$pid" 10 || status=$?
    [ "$status" = 0 ] || echo "note: the $name echo service ended with status $status" >&2
    net_log "$log"
}

# Ours, hosted, over the tap.
guest hosted .build/release/EchoService --net:service=tap0 --ipv4=10.0.0.2/24

# Linux to Linux across the veth, same client, same modes.
measure linux_veth 10.0.1.2
cat "$FIGURES"
awk '{v[$1] = $2}
     END {
         split("discard chargen", modes, " ")
         for (i = 1; i <= 2; i++) {
             ours = v["bulk_hosted_" modes[i] "_gbps"]; linux = v["bulk_linux_veth_" modes[i] "_gbps"]
             if (ours > 0 && linux > 0) printf "bulk_hosted_vs_linux_veth_%s %.2f ratio\n", modes[i], ours / linux
         }
     }' "$FIGURES"

# iperf3 between the same two Linux namespaces, both directions, for reference.
if [ -n "$have_iperf3" ]; then
    for direction in send receive; do
        net_background_peer 30 iperf3 -s -1 -B 10.0.1.2
        server=$LAST_PID
        sleep 0.3
        reverse=(); [ "$direction" = send ] || reverse=(-R)
        ip netns exec "$NS" timeout $((SECONDS_PER_RUN + 20)) iperf3 -c 10.0.1.2 -t "$SECONDS_PER_RUN" "${reverse[@]}" -J \
            >"$NET_TMP/iperf3.json" 2>/dev/null || true
        python3 - "$direction" "$NET_TMP/iperf3.json" <<'PY' || true
import json, sys
try:
    end = json.load(open(sys.argv[2]))["end"]
    print(f"bulk_linux_veth_iperf3_{sys.argv[1]}_gbps {end['sum_received']['bits_per_second'] / 1e9:.3f} Gbps")
except Exception as error:
    print(f"note: iperf3 {sys.argv[1]} gave no figure: {error}", file=sys.stderr)
PY
        net_stop "$server" 5 || true
    done
fi

# The pc image under QEMU TCG on the same tap (another MAC: forget the old one).
ip netns exec "$NS" ip neigh flush dev tap0
: >"$FIGURES"
guest pc "$RUNNER" run --machine pc --timeout 140 --net tap0,bus=pci-modern build/pc/echo.elf -- --ipv4=10.0.0.2/24
cat "$FIGURES"
