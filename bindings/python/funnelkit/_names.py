"""Checked names: a step, stage, channel, segment, option value or column that does not exist is
an error listing the closest valid names, never a silent zero."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["closest", "choice", "check_in_data", "unknown", "ABSENT"]

#: Accepted values of the ``absent=`` option: what to do when a name is valid but does not occur
#: in the data.
ABSENT = ("error", "warn")


def closest(value: Any, valid: Iterable[Any], n: int = 3) -> list[str]:
    """The valid names nearest to ``value`` (case-insensitive spelling distance)."""
    names = [str(v) for v in valid]
    lowered = {s.lower(): s for s in names}
    hits = difflib.get_close_matches(str(value).lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def unknown(what: str, value: Any, valid: Sequence[Any], *, where: str | None = None, limit: int = 20) -> str:
    """The message for a name that is not valid: the closest names, then the valid ones."""
    near = closest(value, valid)
    listed = ", ".join(repr(v) for v in list(valid)[:limit]) + (", ..." if len(valid) > limit else "")
    msg = f"{where + ': ' if where else ''}{what} {value!r} is not valid"
    if near:
        msg += f"; did you mean {' or '.join(repr(v) for v in near)}?"
    return msg + f" (valid: {listed})" if valid else msg


def choice(value: Any, valid: Sequence[str], option: str) -> str:
    """An option that takes one of a few words."""
    if isinstance(value, str) and value in valid:
        return value
    raise ValueError(unknown("value", value, list(valid), where=f"option '{option}'"))


def check_in_data(names: Iterable[Any], present: Iterable[Any], *, what: str, column: str, option: str,
                  absent: str = "error") -> None:
    """Every name must occur among the values of the column: an error (or, with
    ``absent="warn"``, a warning) naming the missing ones and their closest present values."""
    absent = choice(absent, ABSENT, "absent")
    seen = {str(p) for p in present}
    missing = [n for n in names if str(n) not in seen]
    if not missing or not seen:  # no values at all (empty input): nothing for a name to mistype
        return
    values = sorted(seen)
    parts = []
    for n in missing:
        near = closest(n, values)
        parts.append(repr(n) + (f" (did you mean {' or '.join(repr(v) for v in near)}?)" if near else ""))
    one = len(missing) == 1
    msg = (f"option '{option}': {what}{'' if one else 's'} {', '.join(parts)} never occur{'s' if one else ''} in "
           f"column '{column}' (values: {', '.join(repr(v) for v in values[:20])}{', ...' if len(values) > 20 else ''})")
    if absent == "warn":
        warnings.warn(msg + "; counted as never reached", UserWarning, stacklevel=3)
    else:
        raise ValueError(msg + f"; pass absent='warn' to count {'it' if one else 'them'} as never reached")


def renamed(old: str, new: str, *, what: str = "option", stacklevel: int = 3) -> None:
    """Warns that a keyword (or function) was renamed; the old name keeps working for one
    release."""
    warnings.warn(f"{what} '{old}' is deprecated and will be removed; use '{new}'", DeprecationWarning,
                  stacklevel=stacklevel)


def threads_option(threads: Any) -> int:
    """The ``threads=`` option of the per-entity kernels, checked: an integer >= 1."""
    import numpy as np

    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"option 'threads': value {threads!r} must be an integer >= 1")
    return int(threads)
