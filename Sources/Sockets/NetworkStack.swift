// Sockets: blocking TCP and UDP sockets on cooperative threads, over
// Swiftlet's sans-IO stack (Sources/Net) and a platform's network device
// (NetworkHost).
//
// One thread, "net", moves frames and runs the stack's timers: it sleeps on
// the device's event until the stack's next deadline. A socket call changes
// the sans-IO state, then services the stack itself (so its segments leave
// at once, without a switch), and blocks on one wait queue until the state
// it needs holds or its timeout passes. Every service wakes the blocked
// calls to check again - a hint, like device events. Only one thread
// services at a time (a device transmit may block on a full ring): a call
// that finds the stack busy leaves the work to the thread already inside.
// Limits: one interface; the wake-up is a broadcast (every blocked call
// rechecks after each service: fine for tens of sockets, not thousands).
// Tests: Tests/SocketsTests.

import Net
import NetHost
import Swiftlet
import Threads

public enum NetworkError: Error, Equatable {
    /// The call's timeout passed first.
    case timedOut
    /// Nothing listens at the remote port (a RST answered our SYN).
    case refused
    /// The peer reset the connection.
    case reset
    /// Retransmissions or keep-alive probes went unanswered.
    case connectionTimedOut
    /// The socket was closed, or shut down for writing.
    case closed
    case addressInUse
    case noFreePort
    /// The stack's socket or connection table is full.
    case tooManySockets
    /// A destination we cannot send to (ours, broadcast, multicast, 0.0.0.0), or port 0.
    case invalidAddress
    /// Off-link with no gateway.
    case noRoute
    /// More than a datagram holds.
    case messageTooLong
}

extension NetworkError {
    public var message: StaticString {
        switch self {
        case .timedOut: return "timed out"
        case .refused: return "connection refused"
        case .reset: return "connection reset"
        case .connectionTimedOut: return "the peer stopped answering"
        case .closed: return "socket closed"
        case .addressInUse: return "address in use"
        case .noFreePort: return "no free port"
        case .tooManySockets: return "too many sockets"
        case .invalidAddress: return "invalid address"
        case .noRoute: return "no route"
        case .messageTooLong: return "message too long"
        }
    }
}

public final class NetworkStack {
    public let host: NetworkHost
    public var interface: Interface { host.interface }
    /// Socket calls blocked until the stack changes.
    let progress = WaitQueue()
    private var servicing = false
    private var serviceAgain = false
    /// When the stack next needs its timers run.
    private var nextDeadline: UInt64 = 0
    /// The net thread's wake-up time while it sleeps.
    private var sleepingUntil: UInt64?
    private let exitWhenIdle: Bool
    private var netThread: Thread?
    private var stopping = false

    /// The first network device configured from the kernel's arguments
    /// (NetworkHost), served by a new "net" thread. With `exitWhenIdle` the
    /// unikernel ends (status 2) after a minute without a frame.
    public static func start(application: StaticString, exitWhenIdle: Bool = false) -> NetworkStack {
        guard let stack = NetworkStack(host: NetworkHost(application: application), exitWhenIdle: exitWhenIdle) else {
            Console.print("\(application): no memory for the network thread")
            Kernel.exit(1)
        }
        return stack
    }

    /// Serves `host` from a new "net" thread; nil without memory for it.
    public init?(host: NetworkHost, exitWhenIdle: Bool = false) {
        self.host = host
        self.exitWhenIdle = exitWhenIdle
        guard let thread = Thread.spawn(name: "net", stackSize: NetworkStack.stackSize, { self.run() })
        else { return nil }
        netThread = thread
    }

    /// What a thread that services the stack needs: unoptimized (hosted
    /// debug) builds take several times the stack of the images' -Osize code.
    #if DEBUG
    public static let stackSize = 256 << 10
    #else
    public static let stackSize = Thread.defaultStackSize
    #endif

    /// Ends the net thread (sockets stop making progress).
    public func stop() {
        guard let thread = netThread else { return }
        netThread = nil
        stopping = true
        Events.deliver(1 << UInt64(host.device.event.bit))
        _ = thread.join()
    }

    private func run() -> Int {
        while !stopping {
            service()
            if exitWhenIdle { host.exitIfIdle(now: Kernel.monotonicClock) }
            sleepingUntil = nextDeadline
            host.wait(until: nextDeadline)
            sleepingUntil = nil
        }
        return 0
    }

    /// Takes arriving frames, runs due timers, sends what the stack has, then
    /// wakes blocked socket calls (and the net thread, if its sleep would
    /// now miss the stack's next deadline).
    public func service() {
        if servicing {
            serviceAgain = true
            return
        }
        servicing = true
        repeat {
            serviceAgain = false
            let now = Kernel.monotonicClock
            host.receiveFrames(now: now)
            nextDeadline = host.transmitFrames(now: now)
        } while serviceAgain
        servicing = false
        if progress.waiterCount > 0 { progress.wakeAll() }
        if let sleeping = sleepingUntil, nextDeadline < sleeping {
            Events.deliver(1 << UInt64(host.device.event.bit))
        }
    }

    /// Blocks until `ready` holds (checked after every service) or
    /// `timeout` nanoseconds pass (nil: no limit).
    func wait(timeout: UInt64?, until ready: () -> Bool) throws(NetworkError) {
        try wait(deadline: NetworkStack.deadline(after: timeout), until: ready)
    }

    /// The same with a monotonic-clock deadline, for calls that wait more than once.
    func wait(deadline: UInt64?, until ready: () -> Bool) throws(NetworkError) {
        while !ready() {
            if let deadline, Kernel.monotonicClock >= deadline { throw .timedOut }
            progress.wait(until: deadline)
        }
    }

    static func deadline(after timeout: UInt64?) -> UInt64? { timeout.map { Kernel.monotonicClock &+ $0 } }
}
