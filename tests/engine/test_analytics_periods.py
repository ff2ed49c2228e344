"""Calendar of the analytics: local days across time zones and DST, periods, snapshot marks."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.analytics.periods import (
    Mark,
    day_key,
    day_start_ms,
    due_marks,
    grid_floor,
    month_key,
    period_rows,
    period_start_ms,
    rollup_keys,
)

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+05:45
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # 2018-11-04: clocks jumped 00:00 → 01:00


def ms(text: str) -> int:
    """An ISO instant in UTC (``2024-03-10T23:30``) as epoch milliseconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("instant, tz, day", [
    ("2024-03-10T23:30", UTC, "2024-03-10"),
    ("2024-03-10T23:30", PARIS, "2024-03-11"),       # +01:00: already the next day
    ("2024-03-11T03:59", NEW_YORK, "2024-03-10"),    # EDT (−04:00) from 2024-03-10
    ("2024-03-11T04:00", NEW_YORK, "2024-03-11"),
    ("2024-01-01T18:14", KATHMANDU, "2024-01-01"),   # local 23:59
    ("2024-01-01T18:15", KATHMANDU, "2024-01-02"),   # local midnight
])
def test_an_instant_belongs_to_its_local_day(instant, tz, day):
    assert day_key(ms(instant), tz) == day


@pytest.mark.parametrize("tz, day, first_instant", [
    (UTC, "2024-03-31", "2024-03-31T00:00"),
    (PARIS, "2024-03-31", "2024-03-30T23:00"),       # the DST day still starts at +01:00
    (PARIS, "2024-04-01", "2024-03-31T22:00"),       # the next one at +02:00
    (NEW_YORK, "2024-11-03", "2024-11-03T04:00"),    # the 25-hour day starts at EDT
    (NEW_YORK, "2024-11-04", "2024-11-04T05:00"),
    (KATHMANDU, "2024-01-02", "2024-01-01T18:15"),
    (SAO_PAULO, "2018-11-04", "2018-11-04T03:00"),   # no local midnight: the jump at 01:00 −02
])
def test_a_local_day_starts_at_its_first_instant(tz, day, first_instant):
    from datetime import date

    start = day_start_ms(date.fromisoformat(day), tz)
    assert start == ms(first_instant)
    assert day_key(start, tz) == day and day_key(start - 1, tz) != day


def test_rollup_keys_are_day_month_and_all_time_in_the_local_calendar():
    assert rollup_keys(ms("2024-01-31T23:30"), PARIS) == (
        ("day", "2024-02-01"), ("month", "2024-02"), ("all", "*"))
    assert month_key(ms("2024-01-31T23:30"), UTC) == "2024-01"


def test_periods_are_today_this_week_from_monday_this_month_and_all():
    now = ms("2024-05-15T10:00")  # a Wednesday
    assert period_rows("day", now, UTC) == (("day", "2024-05-15"),)
    assert period_rows("week", now, UTC) == (
        ("day", "2024-05-13"), ("day", "2024-05-14"), ("day", "2024-05-15"))
    assert period_rows("month", now, UTC) == (("month", "2024-05"),)
    assert period_rows("all", now, UTC) == (("all", "*"),)
    assert period_start_ms("week", now, PARIS) == ms("2024-05-12T22:00")
    assert period_start_ms("month", now, UTC) == ms("2024-05-01T00:00")
    assert period_start_ms("all", now, UTC) is None
    with pytest.raises(ValueError, match="period: expected one of day, week, month, all"):
        period_rows("year", now, UTC)


def test_marks_every_five_minutes_and_at_the_local_day_boundary():
    last, now = ms("2024-03-30T22:52"), ms("2024-03-30T23:11")
    assert due_marks(last, now, PARIS) == [
        Mark(ts_ms=ms("2024-03-30T22:55"), day_boundary=False),
        Mark(ts_ms=ms("2024-03-30T23:00"), day_boundary=True),  # Paris midnight (+01:00)
        Mark(ts_ms=ms("2024-03-30T23:05"), day_boundary=False),
        Mark(ts_ms=ms("2024-03-30T23:10"), day_boundary=False),
    ]
    assert due_marks(now, now, PARIS) == [] and due_marks(now, now - 1, PARIS) == []


def test_a_boundary_off_the_grid_is_a_mark_of_its_own():
    hour = 3_600_000  # with an hourly grid, Kathmandu's midnight (18:15 UTC) is off it
    marks = due_marks(ms("2024-01-01T17:30"), ms("2024-01-01T19:00"), KATHMANDU, every_ms=hour)
    assert marks == [Mark(ts_ms=ms("2024-01-01T18:00"), day_boundary=False),
                     Mark(ts_ms=ms("2024-01-01T18:15"), day_boundary=True),
                     Mark(ts_ms=ms("2024-01-01T19:00"), day_boundary=False)]
    assert grid_floor(ms("2024-01-01T18:14")) == ms("2024-01-01T18:10")


def test_a_jump_over_several_days_marks_every_boundary_once():
    marks = due_marks(ms("2024-11-02T12:00"), ms("2024-11-05T12:00"), NEW_YORK)
    boundaries = [m.ts_ms for m in marks if m.day_boundary]
    assert boundaries == [ms("2024-11-03T04:00"), ms("2024-11-04T05:00"),
                          ms("2024-11-05T05:00")]
    assert len(marks) == 3 * 24 * 12  # three days of 5-minute marks; boundaries are on the grid
