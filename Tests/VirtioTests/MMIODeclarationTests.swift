// The virtio_mmio.device= command-line words QEMU microvm writes, and
// malformed ones refused.

import Swiftlet
import Virtio
import XCTest

final class MMIODeclarationTests: XCTestCase {
    func parse(_ text: String) -> VirtioMMIODeclaration? {
        var bytes = Array(text.utf8) + [0]
        return bytes.withUnsafeMutableBufferPointer { VirtioMMIODeclaration(RawArgument(cString: $0.baseAddress!)) }
    }

    func testMicrovmWords() {
        XCTAssertEqual(parse("virtio_mmio.device=512@0xfeb00e00:12"),
                       VirtioMMIODeclaration(size: 512, base: 0xFEB0_0E00, interrupt: 12))
        XCTAssertEqual(parse("virtio_mmio.device=4K@0xFEB00000:5:3"),
                       VirtioMMIODeclaration(size: 4096, base: 0xFEB0_0000, interrupt: 5))
        XCTAssertEqual(parse("virtio_mmio.device=1M@4096:7"), VirtioMMIODeclaration(size: 1 << 20, base: 4096, interrupt: 7))
    }

    func testMalformedWordsAreRefused() {
        for bad in ["virtio_mmio.device=", "virtio_mmio.device=512", "virtio_mmio.device=512@", "virtio_mmio.device=512@0x:1",
                    "virtio_mmio.device=@0x1000:1", "virtio_mmio.device=512@0x1000", "virtio_mmio.device=512@0x1000:",
                    "virtio_mmio.device=512@0x1000:1:", "virtio_mmio.device=512@0x1000:1x", "virtio_mmio.device=0@0x1000:1",
                    "virtio_mmio.device=512@0xffffffffffffffff:1", "virtio_mmio.device=512@0x1000:300",
                    "virtio_mmio.device=99999999999999999999@0:1", "virtio_mmio.devices=512@0x1000:1", "quiet"] {
            XCTAssertNil(parse(bad), bad)
        }
    }
}
