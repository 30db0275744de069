#!/usr/bin/env python3
"""Frames per second through a frame reflector: any program that returns
every Ethernet frame it receives with the source and destination addresses
swapped, and ends on a frame of EtherType 0x88B5 whose payload starts with
"STOP" (Sources/Apps/NetEcho on any platform).

Usage - the caller creates the network namespace and the tap in it, starts
the reflector on the tap, and runs this script inside the same namespace:

    ip netns exec NS python3 bench/net/reflect.py TAP COUNT [--name NAME]
        [--sizes 64,1514] [--window 32] [--seconds 5] [--wait 30] [--to MAC] [--no-stop]

    TAP        the tap the reflector is attached to, for example
                 hosted:  ip netns exec NS .build/release/NetEcho --net:service=TAP
                 hvt:     ip netns exec NS swiftlet-hvt --mem=8 --net:service=TAP build/hvt/netecho.elf
                 pc:      ip netns exec NS qemu-system-x86_64 ... -netdev tap,id=n0,ifname=TAP,script=no,downscript=no
                          -device virtio-net-...,netdev=n0 (a virtio-net guest running NetEcho)
    COUNT      the most frames sent per frame size
    --name     the middle of the figures' names (default "reflector")
    --sizes    frame sizes in bytes, Ethernet header included, no FCS
               (default 64,1514; sizes above the tap's MTU + 14 are skipped)
    --window   the most frames in flight at once (default 32)
    --seconds  the longest measurement per size (default 5)
    --wait     the longest wait for the reflector's first answer (default 30 s)
    --to       the frames' destination address, for a reflector that drops frames
               not addressed to it (default 02:de:ad:be:ef:01; NetEcho takes any)
    --no-stop  leave the reflector running (no STOP frame at the end)

Prints, per size, one `NAME VALUE UNIT` line each:

    frames_per_second_NAME_SIZEb VALUE frames/s    reflections / time from first send to last reflection
    frames_lost_NAME_SIZEb VALUE frames            sent, never reflected within 200 ms

Limits: one Python process does the sending and receiving on an AF_PACKET
socket (a send and a receive system call per frame), so the figure tops out
at what this script can do: against the hosted NetEcho (~150k frames/s here)
the script used a whole core and NetEcho half of one. Compare reflectors
measured by the same script, in the same run. Every wait
is bounded: at most --wait, then --seconds (+0.2 s) per size, then 5 s for
the STOP frame. Exit status 0; 1 when the reflector never answered (one line
on stderr); 2 for bad usage.
"""
import argparse, select, socket, struct, sys, time

ETHERTYPE = 0x88B5
SOURCE = bytes.fromhex("02aabbccddee")
DESTINATION = bytes.fromhex("02deadbeef01")  # --to
HEADER = DESTINATION + SOURCE + struct.pack("!H", ETHERTYPE)
LOST_AFTER = 0.2  # seconds without a reflection: the frame counts as lost


def frame(kind, sequence, size):
    payload = kind + struct.pack("!Q", sequence)
    return HEADER + payload + bytes(max(size - len(HEADER) - len(payload), 0))


def reflected(data):
    """The sequence number of a reflection of our frames (addresses swapped), or None."""
    if len(data) < 26 or data[:6] != SOURCE or data[6:12] != DESTINATION or data[12:14] != HEADER[12:14]:
        return None
    return data[14:18], struct.unpack("!Q", data[18:26])[0]


def receive_all(s, limit=256):
    """The frames waiting on the non-blocking socket (at most `limit`)."""
    frames = []
    while len(frames) < limit:
        try:
            frames.append(s.recv(65536))
        except BlockingIOError:
            break
    return frames


def exchange(s, kind, sequence, size, seconds):
    """Sends one frame, resent every 0.5 s, until it is reflected; False after `seconds`."""
    data = frame(kind, sequence, size)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.send(data)
        resend = min(time.monotonic() + 0.5, deadline)
        while time.monotonic() < resend:
            select.select([s], [], [], max(resend - time.monotonic(), 0))
            if any(reflected(f) == (kind, sequence) for f in receive_all(s)):
                return True
    return False


def measure(s, size, count, window, seconds):
    """(reflections per second, frames lost) for `count` frames of `size` bytes."""
    outstanding = {}  # sequence -> send time, oldest first
    sent = got = lost = 0
    start = last = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline and (sent < count or outstanding):
        while sent < count and len(outstanding) < window:
            s.send(frame(b"PING", sent, size))
            outstanding[sent] = time.monotonic()
            sent += 1
        select.select([s], [], [], 0.05)
        for data in receive_all(s):
            match = reflected(data)
            if match and match[0] == b"PING" and outstanding.pop(match[1], None) is not None:
                got += 1
                last = time.monotonic()
        now = time.monotonic()
        while outstanding and now - next(iter(outstanding.values())) > LOST_AFTER:
            outstanding.pop(next(iter(outstanding)))
            lost += 1
    # Frames still in flight at the deadline: one last chance, then lost.
    end = time.monotonic() + LOST_AFTER
    while outstanding and time.monotonic() < end:
        select.select([s], [], [], 0.02)
        for data in receive_all(s):
            match = reflected(data)
            if match and match[0] == b"PING" and outstanding.pop(match[1], None) is not None:
                got += 1
                last = time.monotonic()
    lost += len(outstanding)
    return (got / (last - start) if got and last > start else 0.0), lost


def main():
    parser = argparse.ArgumentParser(description="frames per second through a frame reflector (see the top of this file)")
    parser.add_argument("tap")
    parser.add_argument("count", type=int)
    parser.add_argument("--name", default="reflector")
    parser.add_argument("--sizes", default="64,1514")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--wait", type=float, default=30.0)
    parser.add_argument("--to", default="02:de:ad:be:ef:01")
    parser.add_argument("--no-stop", action="store_true")
    args = parser.parse_args()
    global DESTINATION, HEADER
    try:
        DESTINATION = bytes.fromhex(args.to.replace(":", ""))
    except ValueError:
        DESTINATION = b""
    if len(DESTINATION) != 6:
        parser.error("--to: expected a MAC address like 02:de:ad:be:ef:01")
    HEADER = DESTINATION + SOURCE + struct.pack("!H", ETHERTYPE)
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.count < 1 or args.window < 1 or args.seconds <= 0 or any(size < 26 for size in sizes):
        parser.error("COUNT and --window must be positive, --seconds above 0, sizes at least 26 bytes")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
    s.bind((args.tap, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    try:
        with open(f"/sys/class/net/{args.tap}/mtu") as f:
            largest = int(f.read()) + 14
    except OSError:
        largest = None

    if not exchange(s, b"PING", 1 << 63, 64, args.wait):
        print(f"reflect.py: no reflection on {args.tap} within {args.wait:g} s", file=sys.stderr)
        return 1
    for size in sizes:
        if largest is not None and size > largest:
            print(f"note: {size}-byte frames skipped: {args.tap} carries at most {largest}", file=sys.stderr)
            continue
        receive_all(s, limit=1 << 20)  # late reflections of earlier rounds
        rate, lost = measure(s, size, args.count, args.window, args.seconds)
        print(f"frames_per_second_{args.name}_{size}b {rate:.0f} frames/s")
        print(f"frames_lost_{args.name}_{size}b {lost} frames")
        sys.stdout.flush()
    if not args.no_stop and not exchange(s, b"STOP", 0, 64, 5.0):
        print("note: the STOP frame was not reflected within 5 s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
