"""The stage model: ordered funnel stages with owners, terminal outcomes and recycling."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from . import _core

__all__ = ["Stage", "StageModel"]

_KINDS = ("step", "won", "lost", "disqualified")


class Stage(NamedTuple):
    """One stage: its name, the team that owns it and its kind.

    ``kind`` is ``"step"`` (an ordinary funnel stage), ``"won"`` (the last ladder stage, a
    terminal success), ``"lost"`` or ``"disqualified"`` (terminal outcomes off the ladder).
    """

    name: str
    owner: str = ""
    kind: str = "step"


class StageModel:
    """A validated, ordered list of stages.

    ``step`` and ``won`` stages form the ladder in the order given; ``lost`` and
    ``disqualified`` stages are terminal outcomes outside it. Stage codes are positions in the
    list. ``recycle_target`` names the step stage that recycled entities return to.

    >>> m = StageModel([("Lead", "marketing"), ("MQL", "marketing"), ("SQL", "sales"),
    ...                 ("Won", "sales", "won"), ("Lost", "sales", "lost")], recycle_target="Lead")
    >>> m.ladder
    ['Lead', 'MQL', 'SQL', 'Won']

    Raises ValueError for an empty list, empty or repeated names, a won stage that is not the
    last ladder stage, more than 64 ladder stages or an unknown recycle target.
    """

    __slots__ = ("_m",)

    def __init__(self, stages: Iterable[Stage | tuple[str, ...] | str], *, recycle_target: str | None = None):
        defs = []
        for i, s in enumerate(stages):
            if isinstance(s, str):
                s = Stage(s)
            elif not isinstance(s, Stage):
                s = Stage(*s)
            if not isinstance(s.name, str) or not isinstance(s.owner, str):
                raise TypeError(f"stage {i}: name and owner must be strings, got {s!r}")
            if s.kind not in _KINDS:
                raise ValueError(f"column 'kind', row {i}: value {s.kind!r} is not one of {', '.join(_KINDS)}")
            defs.append((s.name, s.owner, s.kind))
        self._m = _core.StageModel(defs, recycle_target or "")

    @classmethod
    def b2b(cls) -> StageModel:
        """Lead, MQL (marketing) -> SAL, SQL, Opportunity, Customer (won) (sales), with Lost and
        Disqualified outcomes; recycling returns to Lead."""
        return cls._wrap(_core.StageModel.b2b())

    @classmethod
    def _wrap(cls, core: Any) -> StageModel:
        obj = cls.__new__(cls)
        obj._m = core
        return obj

    @property
    def stages(self) -> list[Stage]:
        """Every stage, in code order."""
        return [Stage(*t) for t in self._m.stages]

    @property
    def names(self) -> list[str]:
        """Every stage name, in code order (ladder stages and outcomes)."""
        return [t[0] for t in self._m.stages]

    @property
    def ladder(self) -> list[str]:
        """Names of the ladder stages in funnel order."""
        names = self.names
        return [names[c] for c in self._m.ladder]

    @property
    def ladder_codes(self) -> list[int]:
        """Stage codes of the ladder, in funnel order."""
        return list(self._m.ladder)

    @property
    def owners(self) -> list[str]:
        """Owner of each ladder stage."""
        stages = self._m.stages
        return [stages[c][1] for c in self._m.ladder]

    @property
    def won(self) -> str | None:
        """The won stage (the ladder's last stage when it is of kind won), or None."""
        w = self._m.won
        return None if w is None else self.names[w]

    @property
    def recycle_target(self) -> str | None:
        """The step stage that recycled entities return to, or None."""
        return self._m.recycle_target or None

    @property
    def handoffs(self) -> list[tuple[str, str]]:
        """(from stage, to stage) pairs of the ladder where the owning team changes."""
        ladder = self.ladder
        return [(ladder[k - 1], ladder[k]) for k in self._m.handoffs]

    def code(self, name: str) -> int:
        """The code of a stage name; ValueError when the model has no such stage."""
        return int(self._m.code_of(name))

    def __len__(self) -> int:
        return len(self._m)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StageModel) and self._m == other._m

    def __hash__(self) -> int:
        return hash((tuple(self._m.stages), self._m.recycle_target))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._m.stages, self._m.recycle_target))

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-ready data: ``{"stages": [[name, owner, kind], ...],
        "recycle_target": name or None}``; :meth:`from_dict` reads it back."""
        return {"stages": [list(t) for t in self._m.stages], "recycle_target": self.recycle_target}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageModel:
        """The model of :meth:`to_dict`."""
        return cls([tuple(s) for s in data["stages"]], recycle_target=data.get("recycle_target"))

    def __repr__(self) -> str:
        parts = []
        for s in self.stages:
            tag = "" if s.kind == "step" else f" [{s.kind}]"
            parts.append(f"{s.name} ({s.owner}){tag}" if s.owner else f"{s.name}{tag}")
        rt = f", recycle_target={self.recycle_target!r}" if self.recycle_target else ""
        return f"StageModel({' -> '.join(parts)}{rt})"


def _rebuild(stages: list[tuple[str, str, str]], recycle_target: str) -> StageModel:
    return StageModel(stages, recycle_target=recycle_target or None)
