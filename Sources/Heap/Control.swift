// Control: the TLSF control block (bitmaps, list heads, region table,
// totals, secret) and the O(1) free-list and header operations on it.
// It lives at the start of the first region and is reached only through
// its address: plain loads and stores, never a copy of a large value (Swift
// copies big inline arrays when read through a borrowed struct).
// Tests: Tests/HeapTests/HeapTests.swift.

/// A handle on the control block at `base`. Methods are non-mutating: all
/// state is behind the address.
struct Control {
    let base: UInt

    // Layout: 1024 list heads, then the fixed fields; the first block follows
    // directly. Heads are only meaningful where the bitmaps say the list is
    // non-empty, so creating a control block zeroes just the fixed fields,
    // which share a page with the first block header (fewer first-touch page
    // faults when the region is fresh memory).
    static let headsOffset: UInt = 0  // 1024 words
    static let fieldsOffset: UInt = 8192
    static let flBitmapOffset: UInt = 8192
    static let regionCountOffset: UInt = 8200
    static let secretOffset: UInt = 8208
    static let managedOffset: UInt = 8216
    // 8224: unused
    static let usedOffset: UInt = 8232
    static let peakOffset: UInt = 8240
    static let liveOffset: UInt = 8248
    static let slBitmapsOffset: UInt = 8256  // 32 words
    static let regionsOffset: UInt = 8512  // 32 x (first block, sentinel)
    static let size: UInt = QuickBins.end  // the quick bins follow the regions
    static let maxRegions = 32

    @inline(always) func field(_ offset: UInt) -> UInt { load(base &+ offset) }
    @inline(always) func setField(_ offset: UInt, _ value: UInt) { store(base &+ offset, value) }

    var secret: UInt { @inline(always) get { field(Control.secretOffset) } }
    var regionCount: Int {
        @inline(always) get { Int(bitPattern: field(Control.regionCountOffset)) }
    }

    @inline(always) func regionFirst(_ i: Int) -> UInt {
        field(Control.regionsOffset &+ UInt(bitPattern: i) &<< 4)
    }
    @inline(always) func regionSentinel(_ i: Int) -> UInt {
        field(Control.regionsOffset &+ UInt(bitPattern: i) &<< 4 &+ 8)
    }
    @inline(always) func slBitmap(_ fl: Int) -> UInt {
        field(Control.slBitmapsOffset &+ UInt(bitPattern: fl) &<< 3)
    }
    @inline(always) func setSlBitmap(_ fl: Int, _ value: UInt) {
        setField(Control.slBitmapsOffset &+ UInt(bitPattern: fl) &<< 3, value)
    }
    @inline(always) func head(_ index: Int) -> UInt {
        field(Control.headsOffset &+ UInt(bitPattern: index) &<< 3)
    }
    @inline(always) func setHead(_ index: Int, _ block: UInt) {
        setField(Control.headsOffset &+ UInt(bitPattern: index) &<< 3, block)
    }
    @inline(always) func listIsEmpty(_ index: Int) -> Bool {
        slBitmap(index &>> 5) & (1 &<< UInt(bitPattern: index & 31)) == 0
    }

    // MARK: headers

    /// Keyed hash of a header's address and low bits, top 24 bits.
    @inline(always)
    func tag(_ block: UInt, _ low: UInt) -> UInt {
        // One multiply: the top bits of a product depend on every input bit.
        // (Shifts bind tighter than multiplication in Swift.)
        ((block ^ low ^ secret) &* 0x9E37_79B9_7F4A_7C15) &>> Layout.tagShift
    }

    @inline(always)
    func writeInfo(_ block: UInt, _ low: UInt) {
        store(block &+ Layout.infoOffset, low | tag(block, low) &<< Layout.tagShift)
    }

    @inline(always)
    func tagValid(_ block: UInt, _ info: UInt) -> Bool {
        info &>> Layout.tagShift == tag(block, info & Layout.lowMask)
    }

    @inline(always)
    func sizeFlags(_ block: UInt) -> UInt {
        load(block &+ Layout.infoOffset) & Layout.lowMask
    }

    @inline(always)
    func blockSize(_ block: UInt) -> UInt {
        load(block &+ Layout.infoOffset) & Layout.sizeMask
    }

    // MARK: free lists (doubly linked through the payload, null-terminated)

    @inline(always)
    func link(_ block: UInt, _ size: UInt) {
        linkAt(block, classIndex(size))
    }

    @inline(always)
    func linkAt(_ block: UInt, _ index: Int) {
        let fl = index &>> 5
        let bit: UInt = 1 &<< UInt(bitPattern: index & 31)
        let slMap = slBitmap(fl)
        let next = slMap & bit != 0 ? head(index) : 0
        store(block &+ Layout.nextFreeOffset, next)
        store(block &+ Layout.prevFreeOffset, 0)
        if next != 0 { store(next &+ Layout.prevFreeOffset, block) }
        setHead(index, block)
        if slMap & bit == 0 {
            setSlBitmap(fl, slMap | bit)
            setField(
                Control.flBitmapOffset, field(Control.flBitmapOffset) | 1 &<< UInt(bitPattern: fl))
        }
    }

    @inline(always)
    func unlink(_ block: UInt, _ size: UInt) {
        unlinkAt(block, classIndex(size))
    }

    @inline(always)
    func unlinkAt(_ block: UInt, _ index: Int) {
        let next = load(block &+ Layout.nextFreeOffset)
        let prev = load(block &+ Layout.prevFreeOffset)
        if next != 0 { store(next &+ Layout.prevFreeOffset, prev) }
        if prev != 0 {
            store(prev &+ Layout.nextFreeOffset, next)
        } else {
            replaceHead(index, next)
        }
    }

    /// Puts `new` where `old` is in list `index`: the cheap way to refile a
    /// block whose class did not change (no bitmap work).
    @inline(always)
    func substitute(_ old: UInt, _ new: UInt, _ index: Int) {
        let next = load(old &+ Layout.nextFreeOffset)
        let prev = load(old &+ Layout.prevFreeOffset)
        store(new &+ Layout.nextFreeOffset, next)
        store(new &+ Layout.prevFreeOffset, prev)
        if next != 0 { store(next &+ Layout.prevFreeOffset, new) }
        if prev != 0 {
            store(prev &+ Layout.nextFreeOffset, new)
        } else {
            setHead(index, new)
        }
    }

    /// Files free block `new` where the listed free block `old` was: in
    /// `old`'s list position when the class is unchanged (no bitmap work),
    /// else out of one list and into the other.
    @inline(always)
    func refile(_ old: UInt, _ oldIndex: Int, as new: UInt, _ newIndex: Int) {
        if newIndex == oldIndex {
            substitute(old, new, oldIndex)
        } else {
            unlinkAt(old, oldIndex)
            linkAt(new, newIndex)
        }
    }

    /// Pops `block`, the head of list `index`.
    @inline(always)
    func popHead(_ index: Int, _ block: UInt) {
        let next = load(block &+ Layout.nextFreeOffset)
        if next != 0 { store(next &+ Layout.prevFreeOffset, 0) }
        replaceHead(index, next)
    }

    @inline(always)
    func replaceHead(_ index: Int, _ next: UInt) {
        if next != 0 {
            setHead(index, next)
            return
        }
        let fl = index &>> 5
        let slMap = slBitmap(fl) & ~(1 &<< UInt(bitPattern: index & 31))
        setSlBitmap(fl, slMap)
        if slMap == 0 {
            setField(
                Control.flBitmapOffset,
                field(Control.flBitmapOffset) & ~(1 &<< UInt(bitPattern: fl)))
        }
    }

    /// The first non-empty class at or above `index`, or -1.
    @inline(always)
    func findClass(from index: Int) -> Int {
        guard index < Layout.classCount else { return -1 }
        let fl = index &>> 5
        let slMap = slBitmap(fl) & (UInt.max &<< UInt(bitPattern: index & 31))
        if slMap != 0 { return fl &<< 5 | slMap.trailingZeroBitCount }
        let flMap = field(Control.flBitmapOffset) & (UInt.max &<< UInt(bitPattern: fl &+ 1))
        if flMap == 0 { return -1 }
        let f = flMap.trailingZeroBitCount
        return f &<< 5 | slBitmap(f).trailingZeroBitCount
    }

    /// A non-empty class whose head block holds `size` bytes, or -1.
    /// Good fit: the rounded-up search guarantees a fit in O(1); if it finds
    /// nothing, the head of `size`'s own class may still be big enough.
    @inline(always)
    func fittingClass(_ size: UInt) -> Int {
        let index = findClass(from: searchIndex(size))
        return index >= 0 ? index : ownClassFitting(size)
    }

    /// `size`'s own class, if its head block holds `size` bytes; else -1.
    @inline(always)
    func ownClassFitting(_ size: UInt) -> Int {
        let own = classIndex(size)
        guard own < Layout.classCount, !listIsEmpty(own), blockSize(head(own)) >= size
        else { return -1 }
        return own
    }

    /// Removes and returns a free block of at least `size` bytes, or 0.
    func takeFree(_ size: UInt) -> UInt {
        let index = fittingClass(size)
        guard index >= 0 else { return 0 }
        let block = head(index)
        popHead(index, block)
        return block
    }
}
