"""The fund's opening hours for live handoff, in the fund's own time zone (zoneinfo).

A fund's hours are written as day ranges with a time range each, separated by ";":

    "mon-fri 08:30-16:30"                       (CNSS, Morocco: Africa/Casablanca)
    "sat-thu 08:00-16:00"                       (CASNOS, Algeria: Africa/Algiers)
    "mon-thu 08:30-16:30; fri 08:30-11:30"      (several ranges)

`is_open(now)` says whether agents answer at that moment; `next_opening(now)` when they next do
(an aware datetime in the fund's zone), so a citizen outside hours is told when a person will
read their request."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RANGE = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<open>\d{2}:\d{2})-(?P<close>\d{2}:\d{2})$")


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time


def _days(first: str, last: str) -> frozenset[int]:
    start, end = DAYS.index(first), DAYS.index(last)
    return frozenset((start + step) % 7 for step in range((end - start) % 7 + 1))


def _time(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes)


class OpeningHours:
    def __init__(self, spec: str, zone: str) -> None:
        self.spec, self.zone = spec, ZoneInfo(zone)
        self.shifts = [self._shift(part.strip().lower()) for part in spec.split(";") if part.strip()]
        if not self.shifts:
            raise ValueError(f"no opening hours in {spec!r}")

    @staticmethod
    def _shift(part: str) -> Shift:
        match = RANGE.match(part)
        if not match or match["first"] not in DAYS or (match["last"] or match["first"]) not in DAYS:
            raise ValueError(f"opening hours {part!r}: expected e.g. 'mon-fri 08:30-16:30'")
        opens, closes = _time(match["open"]), _time(match["close"])
        if closes <= opens:
            raise ValueError(f"opening hours {part!r}: closes before it opens")
        return Shift(_days(match["first"], match["last"] or match["first"]), opens, closes)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def is_open(self, now: datetime) -> bool:
        here = self.local(now)
        return any(here.weekday() in s.days and s.opens <= here.time() < s.closes for s in self.shifts)

    def next_opening(self, now: datetime) -> datetime:
        """The next moment agents answer (now itself when open)."""
        here = self.local(now)
        if self.is_open(now):
            return here
        for ahead in range(8):
            day = (here + timedelta(days=ahead)).date()
            starts = sorted(datetime.combine(day, s.opens, self.zone) for s in self.shifts if day.weekday() in s.days)
            for start in starts:
                if start > here:
                    return start
        raise ValueError("opening hours never open")  # unreachable: a shift opens every week
