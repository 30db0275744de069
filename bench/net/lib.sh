# bench/net/lib.sh: the namespaces, peers and clean-up the network benchmarks
# share (sourced by bench/net/http.sh and bench/net/bulk.sh; needs root).
#
#   net_setup NAME [peer]  a client namespace NAME-$$ ($NS) with lo up and tap0
#                      (10.0.0.1/24, MTU 1500, no IPv6) for our stack, which is
#                      10.0.0.2; with `peer` also a peer namespace ($PEER) joined
#                      to it by a veth pair (MTU 1500, the kernel's offloads on):
#                      veth0 10.0.1.1/24 in $NS, veth1 10.0.1.2/24 in $PEER, for
#                      a Linux peer. Nothing else gets an address, and nothing
#                      routes anywhere else.
#   net_background SECONDS CMD...   CMD in $NS, under timeout, in the background;
#                      its pid is $LAST_PID, its output (both streams) goes to
#                      the file $LAST_LOG, and the clean-up ends it
#   net_background_peer SECONDS CMD...   the same in $PEER
#   net_wait_ping ADDR [PID]  pings ADDR from $NS once a second, at most 20
#                      times (and no longer once PID has ended)
#   net_stop PID [SECONDS]  waits for PID to end by itself (default 10 s), then
#                      ends it; prints nothing, returns its status
#   net_log FILE       FILE's lines as notes on stderr
#   net_need COMMAND PACKAGE  true when COMMAND exists, installing PACKAGE with
#                      apt-get if it does not (one note on stderr when that fails)
# The EXIT trap ends every process this script started in the namespaces
# (by pid), deletes both namespaces and removes $NET_TMP, failures included.
# Tunables: BENCH_NET_SECONDS, the seconds per figure (wrk duration, default 5;
# bulk time per direction, default 3).

NET_PIDS=()
NS=
PEER=
NET_TMP=$(mktemp -d)
chmod 755 "$NET_TMP"   # nginx's worker reads the page as nobody

net_cleanup() {
    local pid
    for pid in "${NET_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Whatever a runner left behind in our namespaces (QEMU under swiftlet run).
    for ns in $NS $PEER; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    done
    for pid in "${NET_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    sleep 0.2
    for ns in $NS $PEER; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$NET_TMP"
}
trap net_cleanup EXIT
trap "exit 130" INT TERM

net_setup() {
    NS=$1-$$
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip tuntap add tap0 mode tap
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 || true
    # Linux and the guest agree on the MTU (QEMU tells virtio-net guests 1500).
    ip netns exec "$NS" ip link set tap0 mtu 1500 up
    ip netns exec "$NS" ip addr add 10.0.0.1/24 dev tap0
    [ "${2:-}" = peer ] || return 0
    PEER=$1-peer-$$
    ip netns add "$PEER"
    ip netns exec "$PEER" ip link set lo up
    ip netns exec "$NS" ip link add veth0 type veth peer name veth1
    ip netns exec "$NS" ip link set veth1 netns "$PEER"
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.veth0.disable_ipv6=1 || true
    ip netns exec "$PEER" sysctl -qw net.ipv6.conf.veth1.disable_ipv6=1 || true
    ip netns exec "$NS" ip addr add 10.0.1.1/24 dev veth0
    ip netns exec "$PEER" ip addr add 10.0.1.2/24 dev veth1
    ip netns exec "$NS" ip link set veth0 up
    ip netns exec "$PEER" ip link set veth1 up
}

# net_background_in NAMESPACE SECONDS COMMAND...: started under timeout, logged.
net_background_in() {
    local namespace=$1 seconds=$2; shift 2
    LAST_LOG=$NET_TMP/background-${#NET_PIDS[@]}.log
    timeout "$seconds" ip netns exec "$namespace" "$@" >"$LAST_LOG" 2>&1 &
    LAST_PID=$!
    NET_PIDS+=("$LAST_PID")
}
net_background() { net_background_in "$NS" "$@"; }
net_background_peer() { net_background_in "$PEER" "$@"; }

net_wait_ping() {
    local i
    for i in $(seq 20); do
        ip netns exec "$NS" ping -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
    done
    return 1
}

# net_log FILE: the file's lines as notes on stderr.
net_log() { sed 's/^/note: /' "$1" >&2; }

net_stop() {
    local pid=$1 seconds=${2:-10} i status=0
    for i in $(seq $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || status=$?
    return $status
}

net_need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "note: installing $2 (for $1) with apt-get" >&2
        { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "$2" >/dev/null 2>&1 ||
          { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "$2" >/dev/null 2>&1; }; } || true
    fi
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "note: $1 is missing and could not be installed (apt-get install $2): its figures are skipped" >&2
    return 1
}
