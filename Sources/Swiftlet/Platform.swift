// The platform interface: the C symbols every platform (pc, hvt, hosted) defines.
//
// The kernel pulls what it needs from the platform through these calls and never
// imports a platform module, so dependencies point one way (platform -> kernel).
// Keep the set small and C-shaped, like Solo5's: it is the boundary a new
// platform implements (README "The platform interface"). `package` calls are
// for the other kernel modules (Threads), not for applications.

/// Writes console output (serial, hypercall or stdout). Never fails.
@_extern(c, "swiftlet_platform_write")
func platformWrite(_ bytes: UnsafePointer<UInt8>, _ count: Int)

/// Ends the unikernel with the application's status (0...124 portable; see Kernel.exit).
/// Never returns (C cannot spell Never: callers trap after it).
@_extern(c, "swiftlet_platform_exit")
func platformExit(_ status: Int32)

/// Ends the unikernel after a kernel-detected fault: prints the platform's panic
/// report (registers, backtrace) and exits with `Kernel.panicStatus`.
@_extern(c, "swiftlet_platform_abort")
func platformAbort()

/// The application's arguments (no program name), NUL-terminated UTF-8.
@_extern(c, "swiftlet_platform_argc")
func platformArgumentCount() -> Int
@_extern(c, "swiftlet_platform_argv")
func platformArgument(_ index: Int) -> UnsafePointer<UInt8>?

/// Bytes of RAM the platform was given (the memory map's usable total).
@_extern(c, "swiftlet_platform_ram_bytes")
func platformRAMBytes() -> Int

/// The index-th region of memory for the kernel heap; false past the last one.
/// Called once per index, when the heap is first used.
@_extern(c, "swiftlet_platform_heap_region")
func platformHeapRegion(_ index: Int, _ start: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                        _ size: UnsafeMutablePointer<Int>) -> Bool

/// Cycle-counter value at a boot stage (see BootStage), 0 when the platform has none.
@_extern(c, "swiftlet_platform_boot_stamp")
func platformBootStamp(_ stage: Int) -> UInt64

/// Cycle-counter frequency in Hz (0 when unknown).
@_extern(c, "swiftlet_platform_cycle_hz")
func platformCycleHz() -> UInt64

/// Monotonic nanoseconds since an arbitrary point at or before boot.
@_extern(c, "swiftlet_platform_monotonic")
func platformMonotonic() -> UInt64

/// Nanoseconds since the Unix epoch from the platform's wall clock (0 if it has none).
@_extern(c, "swiftlet_platform_wall_clock")
func platformWallClock() -> UInt64

/// The cycle frequency's relative error bound in parts per million (0 when
/// the rate was announced, not measured).
@_extern(c, "swiftlet_platform_cycle_error_ppm")
func platformCycleErrorPPM() -> UInt64

/// The scheduler's idle (Sources/Threads): blocks until a device event may be pending or
/// `nanoseconds` pass (UInt64.max: no timeout; 0: just polls), and returns
/// the ready set, one bit per event (Events.swift; hvt: POLL's ready set).
@_extern(c, "swiftlet_platform_wait")
package func platformWait(_ nanoseconds: UInt64) -> UInt64

/// For thread stacks (Sources/Threads): makes the 4 KiB page at `page` a stack guard (`guarded`: any access
/// faults) or ordinary memory again; false if the platform cannot.
@_extern(c, "swiftlet_platform_stack_guard")
package func platformStackGuard(_ page: UnsafeMutableRawPointer, _ guarded: Bool) -> Bool

/// Registers the platform's devices (Devices.register); called once, when the
/// application first asks for a device.
@_extern(c, "swiftlet_platform_discover_devices")
func platformDiscoverDevices()
