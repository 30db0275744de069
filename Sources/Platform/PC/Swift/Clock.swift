// The pc wall clock: the CMOS real-time clock (ports 0x70/0x71), read once
// per call with the update-in-progress handshake, BCD or binary, 12 or 24
// hour, century from register 0x32 when it looks valid. Second resolution.

import CPU

enum RTC {
    static func register(_ index: UInt8) -> UInt8 {
        cpu_outb(0x70, index)
        return cpu_inb(0x71)
    }

    /// Waits (bounded) for no update in progress, then reads the fields.
    static func fields() -> [UInt8] {
        var spins = 0
        while register(0x0A) & 0x80 != 0 && spins < 1_000_000 { spins += 1 }
        return [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32].map(register)
    }

    static func secondsSinceEpoch() -> UInt64 {
        // Read until two reads agree, so no field rolled over in between.
        var now = fields()
        for _ in 0..<5 {
            let again = fields()
            if again == now { break }
            now = again
        }
        let status = register(0x0B)
        let binary = status & 0x04 != 0, hours24 = status & 0x02 != 0
        func value(_ raw: UInt8) -> UInt64 { binary ? UInt64(raw) : UInt64(raw >> 4) * 10 + UInt64(raw & 0x0F) }
        var hour = value(now[2] & 0x7F)
        if !hours24 && now[2] & 0x80 != 0 { hour = (hour % 12) + 12 }
        let century = value(now[6])
        let year = (century >= 19 && century <= 30 ? century : 20) * 100 + value(now[5])
        let month = value(now[4]), day = value(now[3])
        // A clock that reads nonsense is no clock: 0, as the interface says.
        guard year >= 1970, (1...12).contains(month), (1...31).contains(day), hour < 24 else { return 0 }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return days * 86_400 + hour * 3_600 + value(now[1]) * 60 + value(now[0])
    }

    /// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
    static func daysSinceEpoch(year: UInt64, month: UInt64, day: UInt64) -> UInt64 {
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

@_cdecl("swiftlet_platform_wall_clock")
func pcWallClock() -> UInt64 { RTC.secondsSinceEpoch() &* 1_000_000_000 }

