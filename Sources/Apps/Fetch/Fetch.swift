// fetch: an HTTP client unikernel - `fetch http://HOST[:PORT]/PATH`. It gets
// its address by DHCP (or `--ipv4=`), resolves HOST with the DNS stub, GETs
// the resource over the blocking socket API (HTTP/1.0: the server closes
// at the end) and prints the status line, the body's length and its
// FNV-1a 64 hash, so a test can check every byte without printing them.
// Exit 0 for a 2xx answer, 1 for another status or a broken answer, 5 when
// HOST does not resolve, 6 when the connection fails, 7 for a bad URL
// (the network's own errors are NetworkHost's: 3 and 4).
// Limits: http only; no redirects, no chunked answers (HTTP/1.0 asked).

import Net
import Sockets
import Swiftlet

@main
struct Fetch {
    static func main() {
        guard let url = Kernel.arguments.first(where: { !$0.hasPrefix("--") }), let target = Target(url) else {
            print("fetch: usage: fetch http://HOST[:PORT]/PATH")
            Kernel.exit(7)
        }
        let stack = NetworkStack.start(application: "fetch")
        let addresses: [IPv4Address]
        do throws(DNSError) { addresses = try stack.resolve(target.host) } catch {
            print("fetch: cannot resolve \(target.host): \(error.message)")
            Kernel.exit(5)
        }
        print("fetch: \(target.host) is \(addresses[0].description)")
        let stream: TCPStream
        do throws(NetworkError) {
            stream = try TCPStream.connect(to: IPv4Endpoint(address: addresses[0], port: target.port), on: stack,
                                           timeout: 10 * Interface.second)
            let request = "GET \(target.path) HTTP/1.0\r\nHost: \(target.host)\r\nUser-Agent: swiftlet-fetch\r\n\r\n"
            try stream.write(Array(request.utf8))
        } catch {
            print("fetch: cannot connect to \(addresses[0].description) port \(target.port): \(error.message)")
            Kernel.exit(6)
        }
        var answer = Answer()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
        do throws(NetworkError) {
            while true {
                let count = try stream.read(into: buffer, timeout: 30 * Interface.second)
                if count == 0 { break }
                answer.take(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
        } catch {
            print("fetch: the answer broke off: \(error.message)")
            Kernel.exit(1)
        }
        stream.close()
        guard let status = answer.statusLine else {
            print("fetch: no HTTP answer")
            Kernel.exit(1)
        }
        print("fetch: \(status)")
        print("fetch: body \(answer.bodyLength) bytes fnv1a64 \(hex(answer.hash))")
        Kernel.exit(answer.isSuccess ? 0 : 1)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<16).map { digits[Int(value >> UInt64(60 - 4 * $0) & 15)] }, as: UTF8.self)
    }
}

/// "http://HOST[:PORT]/PATH".
struct Target {
    var host: String
    var port: UInt16 = 80
    var path = "/"

    init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        if authority.count < rest.count { path = String(rest.dropFirst(authority.count)) }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty else { return nil }
        host = String(name)
        if parts.count == 2 {
            guard let number = UInt16(parts[1]), number != 0 else { return nil }
            port = number
        }
    }
}

/// The answer as it arrives: the head up to the blank line, then the body
/// counted and hashed (FNV-1a 64).
struct Answer {
    private var head: [UInt8] = []
    private var headDone = false
    private(set) var bodyLength = 0
    private(set) var hash: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func take(_ bytes: UnsafeRawBufferPointer) {
        var body = bytes[...]
        if !headDone {
            for (index, byte) in bytes.enumerated() {
                head.append(byte)
                if head.count >= 4 && head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                    headDone = true
                    body = bytes[(index + 1)...]
                    break
                }
            }
            guard headDone else { return }
        }
        for byte in body {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        bodyLength += body.count
    }

    var statusLine: String? {
        guard headDone, let end = head.firstIndex(of: 13) else { return nil }
        return String(decoding: head[..<end], as: UTF8.self)
    }

    /// "HTTP/1.x 2.."
    var isSuccess: Bool { head.count > 9 && head[9] == UInt8(ascii: "2") && head.starts(with: "HTTP/1.".utf8) }
}
