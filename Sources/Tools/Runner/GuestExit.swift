// How a pc guest ended, decoded from QEMU's exit status (the isa-debug-exit
// mapping in Sources/Platform/PC/Swift/Exit.swift), and the status the
// `swiftlet` tool exits with for each outcome. Tests: Tests/RunnerTests.

public enum GuestExit: Equatable, Sendable, CustomStringConvertible {
    /// The application exited with this status (0...124).
    case exited(Int32)
    /// A CPU exception, Swift trap or kernel panic (report on the console).
    case panicked
    /// The application asked for a status the debug-exit device cannot carry.
    case statusOutOfRange
    /// QEMU stopped with no status from the guest: a triple fault or a reset.
    case noStatus
    /// QEMU itself failed (bad option, missing file): its own status 1.
    case qemuFailed(Int32)
    /// The run hit its time limit and was killed.
    case timedOut

    /// The status `swiftlet run` exits with.
    public var hostStatus: Int32 {
        switch self {
        case .exited(let status): return status
        case .panicked: return 255
        case .statusOutOfRange: return 125
        case .noStatus: return 254
        case .qemuFailed: return 253
        case .timedOut: return 124
        }
    }

    /// Decodes QEMU's exit status; `timedOut` when the run's time limit killed it.
    public static func decode(qemuStatus: Int32, timedOut: Bool) -> GuestExit {
        if timedOut { return .timedOut }
        guard qemuStatus & 1 == 1, qemuStatus >= 3, qemuStatus <= 255 else {
            return qemuStatus == 0 ? .noStatus : .qemuFailed(qemuStatus)
        }
        switch qemuStatus >> 1 {
        case 127: return .panicked
        case 126: return .statusOutOfRange
        case let v: return .exited(v - 1)
        }
    }

    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .panicked: return "panicked (status 255)"
        case .statusOutOfRange: return "exited with a status outside 0...124"
        case .noStatus: return "stopped without a status (triple fault or reset)"
        case .qemuFailed(let status): return "QEMU failed with status \(status)"
        case .timedOut: return "timed out"
        }
    }
}
