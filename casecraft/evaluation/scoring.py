"""Indicators from counts, composite scores, grades and ranks: pure functions, no database.

A unit's counts (numerators and denominators) are sums over its grids; an
indicator is a count or a ratio of two of them. Scoring follows the weights,
directions and grade bands of the workflow's ``evaluation:`` section (see
docs/indicators.md for the exact rules and a worked example).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

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

COUNT_INDEX = {k: i for i, k in enumerate(COUNT_KEYS)}
"""Where each count sits in a unit's counts vector (a sequence in the order of ``COUNT_KEYS``)."""


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


# Many units at once --------------------------------------------------------------------------------
# A city's month is 40,000 units. The functions below give the same figures, scores, grades and ranks
# as ``figures``/``composite``/``grade_for``/``ranks`` above (tests/test_evaluation_vector.py checks
# it), over counts vectors (in the order of ``COUNT_KEYS``) and one ranking group at a time.

_PARTS = tuple((ind, COUNT_INDEX[num], COUNT_INDEX[den] if den else -1) for ind, (num, den, _l) in INDICATORS.items())
_JSON_TEMPLATE = "{" + ",".join(f'"{ind}":%s' for ind in INDICATORS) + "}"


def figures_of(vec: Sequence[int]) -> dict[str, dict[str, Any]]:
    """``figures`` of a counts vector."""
    out: dict[str, dict[str, Any]] = {}
    for ind, ni, di in _PARTS:
        num = vec[ni]
        if di < 0:
            out[ind] = {"num": num, "den": None, "value": num}
        else:
            den = vec[di]
            out[ind] = {"num": num, "den": den, "value": (num / den) if den else None}
    return out


def _fragment(num: int, den: int | None) -> str:
    if den is None:
        return f'{{"num":{num},"den":null,"value":{num}}}'
    value = repr(num / den) if den else "null"  # json.dumps writes a float as its repr
    return f'{{"num":{num},"den":{den},"value":{value}}}'


class FiguresJson:
    """``figures`` of counts vectors as compact JSON text (``json.dumps(..., separators=(",", ":"))``).

    Units share many whole vectors (an idle grid's) and most (numerator, denominator) pairs, so the
    text of each is made once.
    """

    def __init__(self) -> None:
        self._frags: dict[tuple[int, int | None], str] = {}
        self._texts: dict[tuple[int, ...], str] = {}

    def __call__(self, vec: tuple[int, ...]) -> str:
        text = self._texts.get(vec)
        if text is None:
            text = self._texts[vec] = self._make(vec)
        return text

    def _make(self, vec: tuple[int, ...]) -> str:
        frags = self._frags
        parts = []
        for _ind, ni, di in _PARTS:
            key = (vec[ni], vec[di] if di >= 0 else None)
            frag = frags.get(key)
            if frag is None:
                frag = frags[key] = _fragment(*key)
            parts.append(frag)
        return _JSON_TEMPLATE % tuple(parts)


class Scored(NamedTuple):
    """One unit's result: its counts vector, score, grade, rank and the size of its ranking group."""

    unit: str
    group: str | None
    counts: tuple[int, ...]
    score: float | None
    grade: str | None
    rank: int | None
    group_size: int


def _listing(r: Scored) -> tuple[bool, int, str]:
    return r.rank is None, r.rank or 0, r.unit


def score_units(specs: Sequence[IndicatorSpec], grades: Sequence[tuple[str, float]],
                units: Iterable[tuple[str, str | None, tuple[int, ...]]]) -> list[Scored]:
    """Score, grade and rank ``(unit, group, counts vector)`` within each group.

    Returns the units ordered by group, then rank (unranked last), then code.
    """
    # (numerator index, denominator index or -1 for a count, weight, lower is better); a weightless
    # indicator adds nothing to the weighted mean, so it is left out here as ``composite`` leaves it out
    plan = [(COUNT_INDEX[INDICATORS[s.id][0]], COUNT_INDEX[den_key] if (den_key := INDICATORS[s.id][1]) else -1,
             s.weight, s.direction == "lower") for s in specs if s.weight > 0]
    count_cols = sorted({ni for ni, di, _w, _lo in plan if di < 0})
    groups: dict[str | None, list[tuple[str, tuple[int, ...]]]] = {}
    for code, group, vec in units:
        groups.setdefault(group, []).append((code, vec))
    graded: dict[float, str | None] = {}
    known: dict[Any, float | None] = {}  # units share counts (every idle grid): score each once
    # listed by group, then rank (unranked last), then code; a None group lists as "" (with it, if any)
    by_key: dict[str, list[Scored]] = {}
    for group, members in groups.items():
        gmax = tuple(max(vec[ni] for _c, vec in members) for ni in count_cols)
        tops = dict(zip(count_cols, gmax, strict=True))
        scores: list[float | None] = []
        for _code, vec in members:
            key: Any = (vec, gmax) if gmax else vec
            if key in known:
                scores.append(known[key])
                continue
            total = weight = 0.0
            for ni, di, w, lower in plan:
                if di >= 0:
                    den = vec[di]
                    if not den:
                        continue
                    pts = 100.0 * (vec[ni] / den)
                else:
                    top = tops[ni]
                    if not top:
                        continue
                    pts = 100.0 * vec[ni] / top
                if lower:
                    pts = 100.0 - pts
                total += w * pts
                weight += w
            score = known[key] = round(total / weight, 2) if weight else None
            scores.append(score)
        ranked = sorted((s for s in scores if s is not None), reverse=True)
        first: dict[float, int] = {}
        for i, best in enumerate(ranked, start=1):  # competition ranks: ties share the first place of the run
            first.setdefault(best, i)
        size = len(ranked)
        out = by_key.setdefault(group or "", [])
        for (code, vec), s in zip(members, scores, strict=True):
            if s is None:
                out.append(Scored(code, group, vec, None, None, None, size))
                continue
            if s not in graded:
                graded[s] = grade_for(s, grades)
            out.append(Scored(code, group, vec, s, graded[s], first[s], size))
    listed: list[Scored] = []
    for listed_as in sorted(by_key):
        rows = by_key[listed_as]
        rows.sort(key=_listing)
        listed += rows
    return listed
