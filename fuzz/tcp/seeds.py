#!/usr/bin/env python3
"""Writes the seed scripts of the tcp fuzz target (fuzz/tcp/main.swift
describes the record format) into fuzz/corpus/tcp/: conversations a peer
could have with the fuzzed interface, sequence numbers relative to the ISNs.
Run it after changing the format: python3 fuzz/tcp/seeds.py"""
import os
import struct

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
OPTIONS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10]) + struct.pack(">II", 1, 0) + bytes([1, 1])


def segment(seq, ack, flags, data=b"", port=1234, dport=80, window=65535, options=b"", trusted=False):
    header = struct.pack(">HHIIBBHHH", port, dport, seq, ack, (5 + len(options) // 4) << 4, flags, window, 0, 0)
    body = header + options + data
    return bytes([0x80 if trusted else 0x00]) + struct.pack(">H", len(body)) + body


def wait(b):
    return bytes([0x01, b])


def app(b):
    return bytes([0x02, b])


def control(index, action):
    return bytes([0x03, index << 2 | action])


HANDSHAKE = segment(0, 0, SYN, options=OPTIONS) + segment(1, 1, ACK) + app(0)
SEEDS = {
    "handshake-data-close": HANDSHAKE + segment(1, 1, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n") + app(40)
        + segment(19, 1 + 40 * 37, ACK) + segment(19, 1 + 40 * 37, FIN | ACK) + control(0, 0)
        + segment(20, 2 + 40 * 37, ACK) + wait(250),
    "handshake-no-options": segment(0, 0, SYN) + segment(1, 1, ACK) + app(10) + segment(1, 371, ACK | FIN) + wait(20),
    "we-close-first": HANDSHAKE + control(0, 0) + segment(1, 2, ACK) + segment(1, 2, FIN | ACK) + wait(250),
    "simultaneous-close": HANDSHAKE + control(0, 0) + segment(1, 1, FIN | ACK) + segment(2, 2, ACK) + wait(250),
    "reset-in-window": HANDSHAKE + segment(1, 1, RST) + app(1),
    "reset-challenge": HANDSHAKE + segment(500, 1, RST) + segment(1, 1, RST | ACK),
    "syn-in-established": HANDSHAKE + segment(1, 1, SYN) + wait(30),
    "out-of-order-sack": HANDSHAKE + segment(1001, 1, ACK, b"b" * 1000) + segment(1, 1, ACK, b"a" * 1000) + app(1),
    "zero-window-probe": HANDSHAKE + app(255) + segment(1, 1, ACK, window=0) + wait(40) + wait(60)
        + segment(1, 1 + 255 * 37, ACK),
    "retransmission-timeouts": HANDSHAKE + app(100) + wait(15) + wait(25) + wait(35) + wait(50),
    "active-open": control(0, 3) + segment(0, 1, SYN | ACK, port=5000, dport=40000, options=OPTIONS)
        + app(3) + wait(5),
    "simultaneous-open": control(0, 3) + segment(0, 0, SYN, port=5000, dport=40000, options=OPTIONS) + wait(5),
    "trusted-garbage-checksum": HANDSHAKE + segment(1, 1, ACK | PSH, b"data", trusted=True) + app(1),
    "listen-ack-gets-reset": segment(0, 7, ACK) + segment(0, 0, FIN),
}

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "tcp")
    os.makedirs(out, exist_ok=True)
    for name, script in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(script)
