"""One row of the benchmark table: a figure measured in this run, the goal it is held to, and whether it met it.

Every script in ``benchmarks/`` has ``measure(quick) -> list[Row]`` (printing its own details as it goes) and a
``main()`` for running it alone; ``benchmarks/run.py`` calls them all and prints one table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    benchmark: str
    name: str
    figure: float
    unit: str
    """"x" for a ratio, else the unit of an absolute figure ("ms", "MiB", ...)"""
    goal: float | None = None
    lower_is_better: bool = True
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.figure <= self.goal if self.lower_is_better else self.figure >= self.goal

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return "-"
        return f"{'<=' if self.lower_is_better else '>='} {self.goal:g}{self.unit if self.unit != 'x' else 'x'}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met, "goal_text": self.goal_text}
