#!/usr/bin/env bash
# bench/net/http.sh: the HTTP figures of `make bench` (needs root).
#   - wrk against our httpd (the hosted release build, HTTPService, on a tap)
#     and against nginx from Debian (nginx-light, one worker, keep-alive
#     without a request limit, no access log, the page from an open-file
#     cache) serving the same page bytes - fetched from our `/` with curl
#     first - in the same network namespace, in the same run: requests per
#     second, p99 latency and the ratios (goal: >= 1.0x nginx's requests per
#     second, lower p99);
#   - the same wrk run against the pc httpd image under QEMU TCG (figures only);
#   - the smallest guest memory (MiB, QEMU -m through `swiftlet run --mem`,
#     binary search over 2..8) in which the pc httpd answers GET / with the
#     page, serves a 1 s wrk run without errors, and stops cleanly on POST /stop;
#   - the httpd images' stripped sizes, pc and hvt.
# wrk: -t1 -c16 -d${BENCH_NET_SECONDS:-5}s --latency against each server, the
# same for all. wrk and nginx are installed with apt-get when missing; when
# that fails, their figures are skipped with a note. Every process runs under
# timeout; namespaces and processes go on every exit (bench/net/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
. bench/net/lib.sh
SECONDS_PER_RUN=${BENCH_NET_SECONDS:-5}
WRK=(-t1 -c16 "-d${SECONDS_PER_RUN}s" --latency --timeout 2s)
RUNNER=.build/release/swiftlet
PC_HTTPD=(run --machine pc --timeout 120 --net tap0,bus=pci-modern build/pc/httpd.elf -- --ipv4=10.0.0.2/24)

# Image sizes first: they need nothing else.
for platform in pc hvt; do
    stripped=$NET_TMP/httpd-$platform.elf
    # Stripped as the Makefile strips (make leaves build/*/httpd.elf stripped already).
    if llvm-objcopy --strip-all build/$platform/httpd.elf "$stripped" 2>/dev/null; then
        echo "image_httpd_${platform}_stripped_bytes $(stat -c %s "$stripped") bytes"
    fi
done

if [ "$(id -u)" != 0 ]; then echo "note: the HTTP figures need root (network namespaces)" >&2; exit 0; fi
have_wrk=yes; net_need wrk wrk || have_wrk=
have_nginx=yes; net_need nginx nginx-light || have_nginx=
net_need curl curl || exit 0
timeout 900 swift build -c release --product HTTPService >"$NET_TMP/build.log" 2>&1 || {
    echo "note: swift build of HTTPService failed: no HTTP figures: $(grep -m1 error: "$NET_TMP/build.log")" >&2
    exit 0
}
[ -x "$RUNNER" ] || timeout 900 swift build -c release --product swiftlet >/dev/null

# wrk_figures NAME URL: the wrk run's requests/s and p99 as figures.
wrk_figures() {
    local out=$NET_TMP/wrk-$1
    ip netns exec "$NS" timeout $((SECONDS_PER_RUN + 20)) wrk "${WRK[@]}" "$2" >"$out" 2>&1 || true
    python3 - "$1" "$out" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
if not rps or not p99:
    print(f"note: wrk against {name} gave no figures: {text.strip()[-300:]}", file=sys.stderr)
    sys.exit(0)
print(f"http_{name}_requests_per_second {float(rps.group(1)):.0f} req/s")
print(f"http_{name}_p99_us {float(p99.group(1)) * {'us': 1, 'ms': 1e3, 's': 1e6}[p99.group(2)]:.0f} us")
errors = re.search(r"Socket errors: (.*)", text)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors or non2xx:
    print(f"note: wrk against {name}: {errors.group(0) if errors else ''} {non2xx.group(0) if non2xx else ''}", file=sys.stderr)
PY
}

# stop_httpd PID: POST /stop, then its exit status (the process is ended after 10 s).
stop_httpd() {
    ip netns exec "$NS" curl -s -o /dev/null --max-time 5 -X POST http://10.0.0.2/stop || true
    net_stop "$1" 10
}

net_setup swiftlet-bench-http

# The hosted httpd, and nginx serving its page.
net_background 120 .build/release/HTTPService --net:service=tap0 --ipv4=10.0.0.2/24
HOSTED=$LAST_PID HOSTED_LOG=$LAST_LOG
if ! net_wait_ping 10.0.0.2 "$HOSTED"; then
    echo "note: the hosted httpd never answered ping: no HTTP figures" >&2
    exit 0
fi
mkdir -p "$NET_TMP/www"
if ! ip netns exec "$NS" curl -s --fail --max-time 5 -o "$NET_TMP/www/index.html" http://10.0.0.2/; then
    echo "note: the hosted httpd does not serve / : no HTTP figures" >&2
    exit 0
fi
chmod -R a+rX "$NET_TMP/www"
echo "note: the page is $(stat -c %s "$NET_TMP/www/index.html") bytes" >&2
NGINX=
if [ -n "$have_nginx" ]; then
    mkdir -p "$NET_TMP/nginx"
    cat >"$NET_TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $NET_TMP/nginx/nginx.pid;
error_log $NET_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    types { text/html html; }
    default_type text/html;
    charset utf-8;
    server_tokens off;
    etag off;
    sendfile on;
    open_file_cache max=16;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $NET_TMP/nginx/body;
    server {
        listen 10.0.0.1:8080;
        root $NET_TMP/www;
        index index.html;
    }
}
CONF
    net_background 120 nginx -p "$NET_TMP/nginx" -c "$NET_TMP/nginx/nginx.conf"
    NGINX=$LAST_PID
    for i in $(seq 50); do
        ip netns exec "$NS" curl -s -o /dev/null --max-time 1 http://10.0.0.1:8080/ && break
        sleep 0.1
    done
    if ! ip netns exec "$NS" curl -s --fail --max-time 5 http://10.0.0.1:8080/ | cmp -s - "$NET_TMP/www/index.html"; then
        echo "note: nginx does not serve the page: no nginx figures ($(cat "$NET_TMP/nginx/error.log" 2>/dev/null))" >&2
        NGINX=
    fi
fi
if [ -n "$have_wrk" ]; then
    results=$(wrk_figures hosted http://10.0.0.2/; [ -z "$NGINX" ] || wrk_figures nginx http://10.0.0.1:8080/)
    echo "$results"
    awk '{v[$1] = $2}
         END {
             if (v["http_nginx_requests_per_second"] > 0 && v["http_hosted_requests_per_second"] > 0)
                 printf "http_hosted_vs_nginx_requests %.2f ratio\n", v["http_hosted_requests_per_second"] / v["http_nginx_requests_per_second"]
             if (v["http_nginx_p99_us"] > 0 && v["http_hosted_p99_us"] > 0)
                 printf "http_hosted_vs_nginx_p99 %.2f ratio\n", v["http_hosted_p99_us"] / v["http_nginx_p99_us"]
         }' <<<"$results"
fi
[ -z "$NGINX" ] || net_stop "$NGINX" 0 || true
status=0
stop_httpd "$HOSTED" || status=$?
net_log "$HOSTED_LOG"
[ "$status" = 0 ] || echo "note: the hosted httpd ended with status $status" >&2

# The pc image under QEMU TCG on the same tap (another MAC: forget the old one).
ip netns exec "$NS" ip neigh flush dev tap0
if [ -n "$have_wrk" ]; then
    net_background 150 "$RUNNER" "${PC_HTTPD[@]}"
    PC=$LAST_PID PC_LOG=$LAST_LOG
    if net_wait_ping 10.0.0.2 "$PC"; then
        wrk_figures pc http://10.0.0.2/
    else
        echo "note: the pc httpd never answered ping: no pc HTTP figures" >&2
    fi
    status=0
    stop_httpd "$PC" || status=$?
    net_log "$PC_LOG"
    [ "$status" = 0 ] || echo "note: the pc httpd ended with status $status" >&2
fi

# serves_in MIB: the pc httpd in a MIB MiB guest answers GET / with the page,
# serves 1 s of wrk -c16 without an error, and ends with status 0 on POST /stop.
serves_in() {
    local pid ok=yes out=$NET_TMP/wrk-memory
    ip netns exec "$NS" ip neigh flush dev tap0
    timeout 40 ip netns exec "$NS" "$RUNNER" run --machine pc --mem "$1" --timeout 35 --net tap0,bus=pci-modern \
        build/pc/httpd.elf -- --ipv4=10.0.0.2/24 >"$NET_TMP/memory-$1.log" 2>&1 &
    pid=$!
    NET_PIDS+=("$pid")
    net_wait_ping 10.0.0.2 "$pid" || ok=
    if [ -n "$ok" ]; then
        ip netns exec "$NS" curl -s --fail --max-time 5 http://10.0.0.2/ | cmp -s - "$NET_TMP/www/index.html" || ok=
    fi
    if [ -n "$ok" ] && [ -n "$have_wrk" ]; then
        ip netns exec "$NS" timeout 15 wrk -t1 -c16 -d1s --timeout 2s http://10.0.0.2/ >"$out" 2>&1 || ok=
        grep -q "Requests/sec" "$out" && ! grep -qE "Socket errors|Non-2xx" "$out" || ok=
    fi
    stop_httpd "$pid" || ok=
    [ -n "$ok" ]
}
# Invariant: it does not serve in `low`, it serves in `high`. 1 MiB is not
# tried: QEMU's pc machine does not get through SeaBIOS with -m 1 (it hangs).
low=1 high=8 smallest=none
if serves_in $high; then
    while [ $((high - low)) -gt 1 ]; do
        middle=$(((low + high) / 2))
        if serves_in $middle; then high=$middle; else low=$middle; fi
    done
    smallest=$high
else
    echo "note: the pc httpd does not serve in $high MiB: $(tail -3 "$NET_TMP/memory-$high.log")" >&2
fi
echo "min_memory_pc_httpd_mib $smallest MiB"
