// The Date field in IMF-fixdate form, "Sun, 06 Nov 1994 08:49:37 GMT"
// (RFC 9110 5.6.7), from seconds since 1970 (Kernel.wallClock / 1e9), with
// integer arithmetic only (hvt images have no floating point). An origin
// server with a clock sends it (RFC 9110 6.6.1); one without a clock may not.
// Tests: Tests/HTTPTests/ResponseTests.swift.

extension ResponseWriter {
    public mutating func dateField(secondsSince1970 seconds: Int) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        // 1970-01-01 was a Thursday (index 4 from Sunday).
        let weekday = ((days % 7) + 11) % 7
        write("Date: ")
        writeName("SunMonTueWedThuFriSat", weekday)
        write(", ")
        writeTwoDigits(day)
        write(" ")
        writeName("JanFebMarAprMayJunJulAugSepOctNovDec", month - 1)
        write(" ")
        writeDecimal(year)
        write(" ")
        writeTwoDigits(secondOfDay / 3600)
        write(":")
        writeTwoDigits(secondOfDay / 60 % 60)
        write(":")
        writeTwoDigits(secondOfDay % 60)
        write(" GMT\r\n")
    }

    /// The i-th three-letter name of a list packed into one literal.
    mutating func writeName(_ names: StaticString, _ i: Int) {
        names.withUTF8Buffer { sink.write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[(i * 3)..<(i * 3 + 3)])) }
    }

    mutating func writeTwoDigits(_ value: Int) {
        if value < 10 { write("0") }
        writeDecimal(value)
    }
}

/// Year, month (1-12) and day of a day count from 1970-01-01 in the proleptic
/// Gregorian calendar: days are shifted to an era starting on 0000-03-01, so
/// the leap day ends each 400-year cycle and each year.
func civilDate(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
    let z = days + 719_468                                  // days since 0000-03-01
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097                        // 0...146096
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from March 1st
    let shiftedMonth = (5 * dayOfYear + 2) / 153            // 0 = March
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}
