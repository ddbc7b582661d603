"""Indicators from counts, composite scores, grades and ranks: pure functions, no database.

A unit's counts (numerators and denominators) are sums over its grids; an
indicator is a count or a ratio of two of them. Scoring follows the weights,
directions and grade bands of the workflow's ``evaluation:`` section (see
docs/indicators.md for the exact rules and a worked example).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# indicator id -> (numerator count, denominator count or None for a plain count, Chinese label)
INDICATORS: dict[str, tuple[str, str | None, str]] = {
    "registered": ("registered", None, "立案数"),
    "public_report_rate": ("public", "registered", "公众举报率"),
    "grassroots_rate": ("grassroots", "due", "基层处置率"),
    "closure_rate": ("closed", "due", "结案率"),
    "ontime_rate": ("ontime", "due", "按期结案率"),
    "valid_report_rate": ("valid", "reports", "有效上报率"),
    "self_handling_rate": ("self_handled", "own_registered", "自处置率"),
    "log_rate": ("log_days", "log_workdays", "民情日志登记率"),
    "verify_rate": ("verify_met", "verify_due", "核实率"),
    "check_rate": ("check_met", "check_due", "核查率"),
}

COUNT_KEYS = ("registered", "public", "due", "closed", "grassroots", "ontime", "reports", "valid",
              "own_registered", "self_handled", "log_days", "log_workdays", "verify_due", "verify_met",
              "check_due", "check_met")

LEVELS = ("street", "community", "grid")


@dataclass(frozen=True)
class IndicatorSpec:
    """One scored indicator of a level: id, label, weight, direction (higher|lower)."""

    id: str
    label: str
    weight: float
    direction: str = "higher"

    @property
    def is_rate(self) -> bool:
        return INDICATORS[self.id][1] is not None


@dataclass(frozen=True)
class Scheme:
    """The scoring scheme: indicators per level and grade bands (highest minimum first)."""

    levels: dict[str, tuple[IndicatorSpec, ...]]
    grades: tuple[tuple[str, float], ...]


_HIGHER = (("registered", 10, "higher"), ("public_report_rate", 15, "lower"), ("grassroots_rate", 25, "higher"),
           ("closure_rate", 25, "higher"), ("ontime_rate", 25, "higher"))
_GRID = (("valid_report_rate", 20, "higher"), ("self_handling_rate", 20, "higher"), ("log_rate", 20, "higher"),
         ("verify_rate", 20, "higher"), ("check_rate", 20, "higher"))
DEFAULT_SCHEME = Scheme(
    levels={lvl: tuple(IndicatorSpec(i, INDICATORS[i][2], float(w), d) for i, w, d in items)
            for lvl, items in (("street", _HIGHER), ("community", _HIGHER), ("grid", _GRID))},
    grades=(("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", 40.0), ("E", 0.0)))


def scheme_from(evaluation: Any) -> Scheme:
    """The scheme of a workflow's ``evaluation:`` section (the default one if it has none)."""
    if evaluation is None:
        return DEFAULT_SCHEME
    levels = {}
    for lvl in LEVELS:
        items = getattr(evaluation, lvl)
        levels[lvl] = (tuple(IndicatorSpec(i.id, i.label, float(i.weight), i.direction) for i in items)
                       if items else DEFAULT_SCHEME.levels[lvl])
    grades = tuple(sorted(((g.grade, float(g.min)) for g in evaluation.grades), key=lambda g: -g[1]))
    return Scheme(levels=levels, grades=grades or DEFAULT_SCHEME.grades)


def add_counts(into: dict[str, int], more: Mapping[str, int]) -> None:
    for k in COUNT_KEYS:
        into[k] = into.get(k, 0) + int(more.get(k, 0))


def figures(counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """Every indicator of a unit: ``{id: {num, den, value}}``; a rate with a zero denominator is None."""
    out: dict[str, dict[str, Any]] = {}
    for ind, (num_key, den_key, _label) in INDICATORS.items():
        num = int(counts.get(num_key, 0))
        if den_key is None:
            out[ind] = {"num": num, "den": None, "value": num}
            continue
        den = int(counts.get(den_key, 0))
        out[ind] = {"num": num, "den": den, "value": (num / den) if den else None}
    return out


def indicator_score(spec: IndicatorSpec, value: float | None, group_max: float | None) -> float | None:
    """0-100 points for one indicator; None when it cannot be scored (no denominator, empty group)."""
    if value is None:
        return None
    if spec.is_rate:
        points = 100.0 * value
    else:
        if not group_max:
            return None
        points = 100.0 * value / group_max
    return 100.0 - points if spec.direction == "lower" else points


def composite(specs: Sequence[IndicatorSpec], figs: Mapping[str, Mapping[str, Any]],
              group_max: Mapping[str, float]) -> float | None:
    """The weighted mean of the scorable indicators' points (weights of the others are left out)."""
    total = weight = 0.0
    for spec in specs:
        pts = indicator_score(spec, figs[spec.id]["value"], group_max.get(spec.id))
        if pts is None or spec.weight <= 0:
            continue
        total += spec.weight * pts
        weight += spec.weight
    return round(total / weight, 2) if weight else None


def grade_for(score: float | None, grades: Sequence[tuple[str, float]]) -> str | None:
    if score is None:
        return None
    for name, minimum in grades:
        if score >= minimum:
            return name
    return None


def ranks(scores: Iterable[tuple[str, float | None]]) -> dict[str, int | None]:
    """Competition ranks (1, 2, 2, 4) by score, highest first; units without a score are unranked."""
    items = sorted(((k, s) for k, s in scores if s is not None), key=lambda x: -x[1])
    out: dict[str, int | None] = {}
    prev: float | None = None
    rank = 0
    for i, (key, score) in enumerate(items, start=1):
        if prev is None or score != prev:
            rank = i
            prev = score
        out[key] = rank
    return out
