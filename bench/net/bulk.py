#!/usr/bin/env python3
"""TCP bulk throughput against the RFC 863 discard (port 9), RFC 864 chargen
(port 19) and RFC 862 echo (port 7) services: the one client program
bench/net/bulk.sh runs against our stack and against a Linux peer, and the
Linux peer's server.

    bulk.py client HOST MODE NAME [--seconds S] [--bytes N]
        MODE discard: connect to HOST:9, send for S seconds (default 3) or N
                 bytes (default 16 GiB), whichever ends first, shut our side,
                 and wait for the server's close (the server has read it all);
                 time from connect to that close.
             chargen: connect to HOST:19, read for S seconds or N bytes, then
                 close; time from connect to the last byte read.
             echo: connect to HOST:7, send for S seconds or N bytes on one
                 thread while reading the echo on another, shut our side, and
                 read to the server's close; counts the echoed bytes (each
                 crossed the link twice), time from connect to that close.
        Prints `bulk_NAME_MODE_gbps VALUE Gbps` (payload bits / time / 1e9);
        exit 1 with one line on stderr when the server refused the connection
        or broke it (nothing printed on stdout), 3 when refused (no such
        service), so the caller can fall back.
    bulk.py server ADDR [--seconds S]
        discard on ADDR:9, chargen on ADDR:19 and echo on ADDR:7, a thread per
        connection, for at most S seconds (default 120).
    bulk.py stop HOST
        sends the UDP datagram "STOP" to HOST:7 (the echo service ends on it).

Every wait is bounded: connect 10 s, every receive 10 s, the whole run the
given seconds + 10. Buffers of 1 MiB per system call, so the client costs
little next to the stack it measures; the Linux peer's server is this same
script. Compare figures measured by this script in the same run.
"""
import argparse, socket, sys, threading, time

PORTS = {"discard": 9, "chargen": 19, "echo": 7}
CHUNK = 1 << 20
TIMEOUT = 10


def chargen_bytes(size):
    """The RFC 864 pattern: lines of 72 printable characters, each starting one further along."""
    printable = bytes(range(32, 127))
    out = bytearray()
    start = 0
    while len(out) < size:
        out += (printable * 2)[start:start + 72] + b"\r\n"
        start = (start + 1) % len(printable)
    return bytes(out[:size])


def client(arguments):
    port = PORTS[arguments.mode]
    data = memoryview(chargen_bytes(CHUNK))
    try:
        begin = time.monotonic()
        connection = socket.create_connection((arguments.host, port), timeout=TIMEOUT)
    except ConnectionRefusedError:
        print(f"bulk.py: {arguments.host} port {port} refused the connection", file=sys.stderr)
        return 3
    except OSError as error:
        print(f"bulk.py: connecting to {arguments.host} port {port}: {error}", file=sys.stderr)
        return 1
    stop_at = begin + arguments.seconds
    try:
        if arguments.mode == "chargen":
            buffer = bytearray(CHUNK)
            count = 0
            end = begin
            while count < arguments.bytes and time.monotonic() < stop_at:
                got = connection.recv_into(buffer)
                if got == 0:
                    raise OSError("the server closed")
                count += got
                end = time.monotonic()
            connection.close()
        else:
            sent = [0]
            failure = []

            def send():
                try:
                    while sent[0] < arguments.bytes and time.monotonic() < stop_at:
                        piece = data[:min(CHUNK, arguments.bytes - sent[0])]
                        connection.sendall(piece)
                        sent[0] += len(piece)
                    connection.shutdown(socket.SHUT_WR)
                except OSError as error:
                    failure.append(error)

            if arguments.mode == "discard":
                send()
                if failure:
                    raise failure[0]
            else:
                sender = threading.Thread(target=send, daemon=True)
                sender.start()
            buffer = bytearray(CHUNK)
            received = 0
            while True:
                got = connection.recv_into(buffer)
                if got == 0:
                    break
                received += got
                if time.monotonic() > stop_at + TIMEOUT:
                    raise OSError("no close within %d s of the end" % TIMEOUT)
            end = time.monotonic()
            connection.close()
            if arguments.mode == "echo":
                sender.join(TIMEOUT)
                if failure:
                    raise failure[0]
                if received != sent[0]:
                    raise OSError(f"sent {sent[0]} bytes, {received} came back")
            elif received:
                raise OSError(f"discard sent {received} bytes back")
            count = received if arguments.mode == "echo" else sent[0]
    except OSError as error:
        print(f"bulk.py: {arguments.mode} against {arguments.host}: {error}", file=sys.stderr)
        return 1
    elapsed = end - begin
    if count == 0 or elapsed <= 0:
        print(f"bulk.py: {arguments.mode} against {arguments.host}: no bytes", file=sys.stderr)
        return 1
    print(f"bulk_{arguments.name}_{arguments.mode}_gbps {count * 8 / elapsed / 1e9:.3f} Gbps")
    print(f"bulk.py: {arguments.name} {arguments.mode}: {count} bytes in {elapsed:.3f} s", file=sys.stderr)
    return 0


def serve(connection, mode):
    connection.settimeout(TIMEOUT)
    buffer = bytearray(CHUNK)
    try:
        if mode == "chargen":
            data = memoryview(chargen_bytes(CHUNK))
            while True:
                connection.sendall(data)
        while True:
            got = connection.recv_into(buffer)
            if got == 0:
                break
            if mode == "echo":
                connection.sendall(memoryview(buffer)[:got])
    except OSError:
        pass
    finally:
        connection.close()


def server(arguments):
    def accept(listener, mode):
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection, mode), daemon=True).start()

    for mode, port in PORTS.items():
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((arguments.host, port))
        listener.listen(16)
        threading.Thread(target=accept, args=(listener, mode), daemon=True).start()
    time.sleep(arguments.seconds)
    return 0


def stop(arguments):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagrams:
        datagrams.sendto(b"STOP", (arguments.host, 7))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("client")
    c.add_argument("host")
    c.add_argument("mode", choices=PORTS)
    c.add_argument("name")
    c.add_argument("--seconds", type=float, default=3)
    c.add_argument("--bytes", type=int, default=16 << 30)
    s = commands.add_parser("server")
    s.add_argument("host")
    s.add_argument("--seconds", type=float, default=120)
    t = commands.add_parser("stop")
    t.add_argument("host")
    arguments = parser.parse_args()
    return {"client": client, "server": server, "stop": stop}[arguments.command](arguments)


if __name__ == "__main__":
    sys.exit(main())
