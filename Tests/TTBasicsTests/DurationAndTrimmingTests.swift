import TTBasics
import Testing

@Suite("Duration milliseconds and whitespace trimming")
struct DurationAndTrimmingTests {
    @Test("durations convert to milliseconds, truncated, rounded up or with fractions")
    func milliseconds() {
        let duration = Duration.milliseconds(1234) + .microseconds(500)
        #expect(duration.inMilliseconds == 1234.5)
        #expect(duration.wholeMilliseconds == 1234)
        #expect(duration.wholeMillisecondsRoundedUp == 1235)
        #expect(Duration.milliseconds(7).wholeMillisecondsRoundedUp == 7)
        #expect(Duration.nanoseconds(1).wholeMillisecondsRoundedUp == 1)
        #expect(Duration.nanoseconds(1).wholeMilliseconds == 0)
        #expect(Duration.zero.wholeMillisecondsRoundedUp == 0)
        #expect(Duration.seconds(3).inMilliseconds == 3000)
        // Beyond Int64's milliseconds: held at the bound, not an overflow trap.
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == Int64.max)
        #expect(Duration.seconds(Int64.max / 1000).wholeMillisecondsRoundedUp == Int64.max / 1000 * 1000)
        #expect((Duration.seconds(Int64.max / 1000) + .milliseconds(999)).wholeMillisecondsRoundedUp == Int64.max)
        #expect(Duration.seconds(Int64.min).wholeMilliseconds == Int64.min)
    }

    @Test("trimming removes surrounding whitespace and newlines only")
    func trimming() {
        #expect("  a b \t\r\n".trimmingWhitespace() == "a b")
        #expect(" \n ".trimmingWhitespace() == "")
        #expect("x".trimmingWhitespace() == "x")
        #expect("  x  "[...].trimmingWhitespace() == "x")
    }
}
