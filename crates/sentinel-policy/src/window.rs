//! The calendar parts of a time condition: a set of weekdays and a daily window of hours.
//!
//! Both are plain values checked against a local date-time, kept apart from parsing and time
//! zones so their edge cases (wrap-around, `24:00`, start inclusive, end exclusive) live in
//! one place.

use jiff::civil::Weekday;

/// Weekday names as written in a policy, Monday first.
pub(crate) const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A set of weekdays, one bit per day (bit 0 is Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Days(u8);

impl Days {
    /// Every day of the week: what an absent `days` means.
    pub(crate) const ALL: Days = Days(0b111_1111);
    /// No day yet; filled with [`Days::insert`].
    pub(crate) const NONE: Days = Days(0);

    /// The weekday a policy name stands for, if it is one.
    pub(crate) fn parse_name(name: &str) -> Option<Weekday> {
        let index = WEEKDAY_NAMES.iter().position(|day| *day == name)?;
        Weekday::from_monday_zero_offset(i8::try_from(index).ok()?).ok()
    }

    /// Adds a day to the set.
    pub(crate) fn insert(&mut self, day: Weekday) {
        self.0 |= Self::bit(day);
    }

    /// Whether `day` is in the set.
    pub(crate) fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    fn bit(day: Weekday) -> u8 {
        1 << day.to_monday_zero_offset()
    }
}

/// Minutes in a day: the value of `24:00`.
pub(crate) const MINUTES_PER_DAY: u16 = 24 * 60;

/// A daily window `[start, end)` in minutes since local midnight. `start > end` wraps midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    /// The window from `start` to `end`; `None` when they are equal (an ambiguous window).
    pub(crate) fn new(start: u16, end: u16) -> Option<Hours> {
        (start != end).then_some(Hours { start, end })
    }

    /// Whether `minute` (since local midnight, below 1440) falls in the window.
    pub(crate) fn contains(self, minute: u16) -> bool {
        if self.start < self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// Which end of a window a clock time is for: only an end may be `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    Start,
    End,
}

/// Parses `HH:MM` into minutes since midnight, or says what is wrong with it.
pub(crate) fn parse_clock(text: &str, edge: Edge) -> Result<u16, String> {
    let expected = match edge {
        Edge::Start => "expected HH:MM between 00:00 and 23:59",
        Edge::End => "expected HH:MM between 00:00 and 24:00",
    };
    let bytes = text.as_bytes();
    let digits_ok = bytes.len() == 5
        && bytes[2] == b':'
        && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
    if !digits_ok {
        return Err(format!("invalid time \"{text}\"; {expected}"));
    }
    let number = |i: usize| u16::from(bytes[i] - b'0') * 10 + u16::from(bytes[i + 1] - b'0');
    let (hour, minute) = (number(0), number(3));
    let minutes = hour * 60 + minute;
    let in_range = minute < 60
        && match edge {
            Edge::Start => hour < 24,
            Edge::End => minutes <= MINUTES_PER_DAY,
        };
    if in_range {
        Ok(minutes)
    } else {
        Err(format!("time \"{text}\" is out of range; {expected}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_to_minutes() {
        assert_eq!(parse_clock("00:00", Edge::Start), Ok(0));
        assert_eq!(parse_clock("09:30", Edge::Start), Ok(570));
        assert_eq!(parse_clock("23:59", Edge::Start), Ok(1439));
        assert_eq!(parse_clock("24:00", Edge::End), Ok(1440));
    }

    #[test]
    fn malformed_or_out_of_range_clock_times_are_rejected() {
        for bad in [
            "9:00",
            "09:0",
            "0900",
            "09-00",
            "24:01",
            "12:60",
            " 9:00",
            "٠٩:٠٠",
            "",
        ] {
            assert!(parse_clock(bad, Edge::End).is_err(), "{bad:?}");
        }
        assert!(parse_clock("24:00", Edge::Start).is_err());
        assert_eq!(parse_clock("00:00", Edge::End), Ok(0));
    }

    #[test]
    fn window_includes_start_and_excludes_end() {
        let w = Hours::new(9 * 60, 17 * 60).unwrap();
        assert!(w.contains(540));
        assert!(w.contains(1019));
        assert!(!w.contains(1020));
        assert!(!w.contains(539));
    }

    #[test]
    fn window_wraps_midnight_when_start_is_after_end() {
        let w = Hours::new(22 * 60, 6 * 60).unwrap();
        assert!(w.contains(23 * 60 + 30));
        assert!(w.contains(5 * 60 + 59));
        assert!(w.contains(0));
        assert!(!w.contains(6 * 60));
        assert!(!w.contains(12 * 60));
    }

    #[test]
    fn equal_start_and_end_is_not_a_window() {
        assert_eq!(Hours::new(600, 600), None);
    }

    #[test]
    fn weekday_names_map_to_their_days() {
        let mut days = Days::NONE;
        days.insert(Days::parse_name("sunday").unwrap());
        assert!(days.contains(Weekday::Sunday));
        assert!(!days.contains(Weekday::Monday));
        assert_eq!(Days::parse_name("Monday"), None);
        assert!(Days::ALL.contains(Weekday::Wednesday));
    }
}
