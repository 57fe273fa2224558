"""Time, one way everywhere: durations, points in time and calendar periods.

Every public function reads its time column once into a :class:`TimeAxis`, which knows the
column's unit (ticks per second) and whether it held datetimes, and converts every duration
and timestamp argument of the call to integer ticks of that column:

- durations: ``datetime.timedelta``, ``numpy.timedelta64``, ``pandas.Timedelta`` and strings
  such as ``"90s"``, ``"1h"``, ``"7d"``, ``"2w"``, ``"1h30m"`` or ISO 8601 (``"PT1H"``,
  ``"P7D"``). A bare number is accepted only when the time column holds integers; it is then in
  that column's unit. With a datetime column a bare number is a ``TypeError`` that says what
  to pass instead, because "3600" could be seconds or nanoseconds.
- timestamps: ``datetime.datetime``, ``datetime.date``, ``numpy.datetime64``,
  ``pandas.Timestamp`` and ISO 8601 strings; naive values are UTC. A bare integer is accepted
  only for integer time columns (ticks of the column).
- periods: one calendar vocabulary, ``"day"``, ``"week"`` (ISO weeks, starting Monday),
  ``"month"``, ``"quarter"``, ``"year"``, in a time zone (``"UTC"``, an IANA name such as
  ``"Europe/Berlin"`` or a fixed offset in seconds east of UTC).

A conversion that would lose information (``"500ms"`` against a column in whole seconds) is an
error, never a silent rounding.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PERIODS",
    "TICKS_PER_SECOND",
    "TimeAxis",
    "Duration",
    "parse_duration_ns",
    "parse_period",
    "parse_unit",
]

#: Ticks per second of each supported time unit.
TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
#: The calendar periods, in one vocabulary for every function.
PERIODS = ("day", "week", "month", "quarter", "year")

Duration = Any
"""A duration argument: ``timedelta``, ``numpy.timedelta64``, ``pandas.Timedelta``, a string
such as ``"1h"``, or (integer time columns only) a number of ticks."""

_NS = {
    "ns": 1, "nanosecond": 1, "nanoseconds": 1,
    "us": 1_000, "µs": 1_000, "microsecond": 1_000, "microseconds": 1_000,
    "ms": 1_000_000, "millisecond": 1_000_000, "milliseconds": 1_000_000,
    "s": 10**9, "sec": 10**9, "secs": 10**9, "second": 10**9, "seconds": 10**9,
    "m": 60 * 10**9, "min": 60 * 10**9, "mins": 60 * 10**9, "minute": 60 * 10**9, "minutes": 60 * 10**9,
    "h": 3600 * 10**9, "hr": 3600 * 10**9, "hrs": 3600 * 10**9, "hour": 3600 * 10**9, "hours": 3600 * 10**9,
    "d": 86_400 * 10**9, "day": 86_400 * 10**9, "days": 86_400 * 10**9,
    "w": 604_800 * 10**9, "week": 604_800 * 10**9, "weeks": 604_800 * 10**9,
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]+)\s*", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_DURATION_HELP = "a duration such as '1h', '7d', datetime.timedelta(hours=1) or pandas.Timedelta('1h')"
_PERIOD_ALIASES = {"D": "day", "W": "week", "M": "month", "MS": "month", "ME": "month", "Q": "quarter",
                   "QS": "quarter", "QE": "quarter", "Y": "year", "A": "year", "YS": "year", "YE": "year",
                   "daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter",
                   "yearly": "year", "annual": "year", "days": "day", "weeks": "week", "months": "month",
                   "quarters": "quarter", "years": "year"}


def _exact_ns(number: str, factor: int, option: str, text: str) -> int:
    """``number * factor`` as an exact integer of nanoseconds."""
    whole, _, frac = number.partition(".")
    value = int(whole or "0") * factor
    if frac:
        scale = 10 ** len(frac)
        num = int(frac) * factor
        if num % scale:
            raise ValueError(f"option '{option}': value {text!r} is not a whole number of nanoseconds")
        value += num // scale
    return value


def parse_duration_ns(value: Any, option: str) -> int | None:
    """A duration object or string as exact integer nanoseconds; None when ``value`` is a bare
    number (the caller decides what a number means). Raises for anything else."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"option '{option}': value {value!r} is not a duration; pass {_DURATION_HELP}")
    if isinstance(value, np.timedelta64):  # before the integer test: numpy counts it as an integer
        if np.isnat(value):
            raise ValueError(f"option '{option}': value NaT is not a duration")
        unit, count = np.datetime_data(value.dtype)
        if unit in ("Y", "M"):
            raise ValueError(f"option '{option}': value {value!r} has no fixed length; use days or weeks")
        return int(value.astype("timedelta64[ns]").astype(np.int64))
    if isinstance(value, (int, np.integer, float, np.floating)):
        return None
    if isinstance(value, _dt.timedelta):
        ns = getattr(value, "value", None)  # pandas.Timedelta keeps nanoseconds
        if isinstance(ns, (int, np.integer)):
            return int(ns)
        return ((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds) * 1_000
    if isinstance(value, str):
        text = value.strip()
        sign = 1
        if text.startswith("-"):
            sign, text = -1, text[1:]
        iso = _ISO.match(text)
        if iso and any(iso.groupdict().values()):
            g = {k: (v or "0") for k, v in iso.groupdict().items()}
            total = (int(g["w"]) * 604_800 + int(g["d"]) * 86_400 + int(g["h"]) * 3600 + int(g["m"]) * 60) * 10**9
            return sign * (total + _exact_ns(g["s"], 10**9, option, value))
        pos, total, parts = 0, 0, 0
        while pos < len(text):
            m = _PART.match(text, pos)
            if not m or m.group(2).lower() not in _NS:
                raise ValueError(
                    f"option '{option}': value {value!r} is not a duration; write a number and a unit "
                    f"(ns, us, ms, s, m/min, h, d, w), e.g. '90s', '1h', '7d', '1h30m'"
                )
            total += _exact_ns(m.group(1), _NS[m.group(2).lower()], option, value)
            pos, parts = m.end(), parts + 1
        if parts == 0:
            raise ValueError(f"option '{option}': value {value!r} is not a duration")
        return sign * total
    raise TypeError(f"option '{option}': value {value!r} is not a duration; pass {_DURATION_HELP}")


def parse_unit(unit: str | None, option: str = "time_unit") -> str:
    """A time unit name ("s", "ms", "us", "ns"), default seconds."""
    if unit is None:
        return "s"
    if unit not in TICKS_PER_SECOND:
        raise ValueError(f"option '{option}': value {unit!r} is not one of {', '.join(map(repr, TICKS_PER_SECOND))}")
    return unit


def parse_period(period: Any, option: str = "period") -> str:
    """One calendar period name; pandas frequency aliases are recognised only to point at the
    right name."""
    if isinstance(period, str) and period in PERIODS:
        return period
    hint = _PERIOD_ALIASES.get(period) if isinstance(period, str) else None
    extra = f" (did you mean {hint!r}?)" if hint else ""
    raise ValueError(f"option '{option}': value {period!r} is not one of {', '.join(map(repr, PERIODS))}{extra}")


@dataclass(frozen=True)
class TimeAxis:
    """The time column of one call: its name, unit and whether it held datetimes.

    ``duration(value, option)`` and ``timestamp(value, option)`` convert arguments to ticks of
    this column; ``datetimes(ticks)`` and ``timedeltas(ticks)`` convert results back for
    display (datetimes only when the input had datetimes).
    """

    column: str
    unit: str
    is_datetime: bool

    @property
    def ticks_per_second(self) -> int:
        return TICKS_PER_SECOND[self.unit]

    @property
    def unit_name(self) -> str:
        """What a bare number in results means ("seconds", "ms", ...)."""
        return {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[self.unit]

    def duration(self, value: Any, option: str, *, allow_negative: bool = False, allow_none: bool = False) -> int | None:
        """A duration argument as ticks of the time column."""
        if value is None:
            if allow_none:
                return None
            raise TypeError(f"option '{option}': a duration is required; pass {_DURATION_HELP}")
        ns = parse_duration_ns(value, option)
        if ns is None:
            if self.is_datetime:
                raise TypeError(
                    f"option '{option}': a bare number ({value!r}) is ambiguous with the datetime column "
                    f"'{self.column}'; pass {_DURATION_HELP}"
                )
            if isinstance(value, (float, np.floating)):
                if not np.isfinite(value) or value != round(value):
                    raise ValueError(f"option '{option}': value {value!r} is not a whole number of ticks "
                                     f"of the time column '{self.column}'")
            ticks = int(value)
        else:
            per = 1_000_000_000 // self.ticks_per_second
            if ns % per:
                raise ValueError(
                    f"option '{option}': value {value!r} is not a whole number of {self.unit_name}, the unit "
                    f"of the time column '{self.column}'"
                    + ("" if self.is_datetime else " (name another unit with time_unit=)")
                )
            ticks = ns // per
        if ticks < 0 and not allow_negative:
            raise ValueError(f"option '{option}': value {value!r} must not be negative")
        _check_int64(ticks, option, value)
        return ticks

    def timestamp(self, value: Any, option: str, *, allow_none: bool = False) -> int | None:
        """A point-in-time argument as ticks of the time column (UTC)."""
        if value is None:
            if allow_none:
                return None
            raise TypeError(f"option '{option}': a time is required")
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"option '{option}': value {value!r} is not a time")
        if isinstance(value, (int, np.integer, float, np.floating)):
            if self.is_datetime:
                raise TypeError(
                    f"option '{option}': a bare number ({value!r}) is ambiguous with the datetime column "
                    f"'{self.column}'; pass a datetime, a pandas.Timestamp or an ISO string such as "
                    f"'2024-12-31T00:00:00'"
                )
            if isinstance(value, (float, np.floating)) and (not np.isfinite(value) or value != round(value)):
                raise ValueError(f"option '{option}': value {value!r} is not a whole number of ticks")
            ticks = int(value)
            _check_int64(ticks, option, value)
            return ticks
        ns = _timestamp_ns(value, option)
        per = 1_000_000_000 // self.ticks_per_second
        if ns % per:
            raise ValueError(f"option '{option}': value {value!r} is not a whole number of {self.unit_name}")
        return ns // per

    def datetimes(self, ticks: Any, never: int | None = None) -> np.ndarray:
        """Ticks as ``datetime64`` when the input had datetimes (``never`` becomes NaT), else
        the ticks unchanged."""
        arr = np.asarray(ticks, dtype=np.int64)
        if not self.is_datetime:
            return arr
        out = arr.astype(f"datetime64[{self.unit}]")
        if never is not None:
            out[arr == never] = np.datetime64("NaT")
        return out

    def timedeltas(self, ticks: Any) -> np.ndarray:
        """Tick durations as ``timedelta64`` when the input had datetimes, else unchanged."""
        arr = np.asarray(ticks)
        if not self.is_datetime:
            return arr
        if arr.dtype.kind == "f":
            ns = arr * (1_000_000_000 // self.ticks_per_second)
            out = np.where(np.isfinite(ns), ns, 0).astype(np.int64).astype("timedelta64[ns]")
            out[~np.isfinite(ns)] = np.timedelta64("NaT")
            return out
        return arr.astype(np.int64).astype(f"timedelta64[{self.unit}]")

    def days(self, ticks: Any) -> np.ndarray:
        """Tick durations in days (float)."""
        return np.asarray(ticks, dtype=np.float64) / (self.ticks_per_second * 86_400.0)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "unit": self.unit, "datetime": self.is_datetime}


def _check_int64(ticks: int, option: str, value: Any) -> None:
    if not -(2**63) < ticks < 2**63:
        raise ValueError(f"option '{option}': value {value!r} does not fit in 64-bit ticks")


def _timestamp_ns(value: Any, option: str) -> int:
    """A datetime-like or ISO string as nanoseconds since the epoch, UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            try:
                return int(np.datetime64(text, "ns").astype(np.int64))
            except ValueError:
                raise ValueError(f"option '{option}': value {value!r} is not an ISO 8601 date or time") from None
        value = parsed
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError(f"option '{option}': value NaT is not a time")
        return int(value.astype("datetime64[ns]").astype(np.int64))
    ts_value = getattr(value, "value", None)  # pandas.Timestamp: nanoseconds since the epoch, UTC
    if type(value).__module__.startswith("pandas") and isinstance(ts_value, (int, np.integer)):
        return int(ts_value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        delta = value - _dt.datetime(1970, 1, 1)
        return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000
    if isinstance(value, _dt.date):
        return (value - _dt.date(1970, 1, 1)).days * 86_400 * 10**9
    raise TypeError(f"option '{option}': value {value!r} is not a time; pass a datetime, a date or an ISO string")


def parse_tz(tz: Any, option: str = "tz") -> int | str:
    """A time zone: "UTC", an IANA name (returned as is, checked) or a fixed offset in seconds
    east of UTC (an int, or a ``timedelta``)."""
    if tz is None or tz == "UTC":
        return 0
    if isinstance(tz, _dt.timedelta):
        return int(tz.total_seconds())
    if isinstance(tz, (int, np.integer)) and not isinstance(tz, bool):
        if abs(int(tz)) > 18 * 3600:
            raise ValueError(f"option '{option}': offset {tz!r} seconds is more than 18 hours")
        return int(tz)
    if isinstance(tz, str):
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            from ._names import closest

            near = closest(tz, sorted(zoneinfo.available_timezones()))
            hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
            raise ValueError(f"option '{option}': {tz!r} is not a time zone{hint}") from None
        return tz
    raise TypeError(f"option '{option}': expected 'UTC', an IANA time zone name or an offset in seconds, got {tz!r}")


def _floor_local(local_s: np.ndarray, period: str) -> np.ndarray:
    """Calendar period starts of local wall-clock seconds since the epoch (vectorised)."""
    days = np.floor_divide(local_s, 86_400)
    if period == "day":
        return days * 86_400
    if period == "week":  # 1970-01-01 was a Thursday: Monday is 3 days earlier
        return (days - np.mod(days + 3, 7)) * 86_400
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    if period == "quarter":
        months = months - np.mod(months, 3)
    elif period == "year":
        months = months - np.mod(months, 12)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) * 86_400


def calendar_floor(ticks: Any, axis: TimeAxis, period: str, tz: int | str = 0) -> np.ndarray:
    """The start (as ticks of ``axis``, UTC) of the calendar period of each timestamp, in the
    time zone ``tz`` (a fixed offset in seconds or an IANA name, daylight saving included)."""
    period = parse_period(period)
    arr = np.asarray(ticks, dtype=np.int64)
    tps = axis.ticks_per_second
    secs = np.floor_divide(arr, tps)
    if isinstance(tz, (int, np.integer)):
        start = _floor_local(secs + int(tz), period) - int(tz)
        return start * tps
    import zoneinfo

    zone = zoneinfo.ZoneInfo(tz)
    uniq, inverse = np.unique(secs, return_inverse=True)
    utc = _dt.timezone.utc
    epoch = _dt.datetime(1970, 1, 1)
    offsets = np.array([int(_dt.datetime.fromtimestamp(int(s), utc).astimezone(zone).utcoffset().total_seconds())
                        for s in uniq.tolist()], dtype=np.int64)
    local_start = _floor_local(uniq + offsets, period)
    out = np.empty(len(uniq), dtype=np.int64)
    for i, ls in enumerate(local_start.tolist()):
        wall = epoch + _dt.timedelta(seconds=int(ls))
        aware = wall.replace(tzinfo=zone)
        # A start that falls in a daylight-saving gap moves forward to the first valid instant.
        back = aware.astimezone(utc).astimezone(zone).replace(tzinfo=None)
        if back != wall:
            aware = (wall + _dt.timedelta(hours=1)).replace(tzinfo=zone)
        out[i] = int((aware.astimezone(utc).replace(tzinfo=None) - epoch).total_seconds())
    return out[inverse.reshape(-1)] * tps


def period_end(start_ticks: Any, axis: TimeAxis, period: str, tz: int | str = 0) -> np.ndarray:
    """The (exclusive) end of the calendar periods starting at ``start_ticks``."""
    arr = np.asarray(start_ticks, dtype=np.int64)
    tps = axis.ticks_per_second
    # The next period starts within 400 days (a year) and at least 23 hours (a short day) later.
    step = {"day": 26 * 3600, "week": 8 * 86_400, "month": 32 * 86_400, "quarter": 93 * 86_400,
            "year": 367 * 86_400}[parse_period(period)]
    return calendar_floor(arr + step * tps, axis, period, tz)


def calendar_periods(first: int, last: int, axis: TimeAxis, period: str, tz: int | str = 0) -> tuple[np.ndarray, np.ndarray]:
    """The consecutive calendar periods that cover the ticks ``first`` .. ``last`` (inclusive):
    (starts, exclusive ends) as ticks of ``axis``, in the time zone ``tz``."""
    period = parse_period(period)
    if last < first:
        raise ValueError("no times to derive calendar periods from")
    starts = [int(calendar_floor(np.array([first]), axis, period, tz)[0])]
    ends: list[int] = []
    while True:
        end = int(period_end(np.array([starts[-1]]), axis, period, tz)[0])
        ends.append(end)
        if end > last:
            break
        starts.append(end)
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
