"""The evaluation over many units at once gives exactly what the per-unit rules give.

``scoring.figures_of``, ``FiguresJson`` and ``score_units`` serve a city's month (40,000 units); the
per-unit functions (``figures``, ``composite``, ``grade_for``, ``ranks``) state the rules. Random counts,
groups, weights and directions must come out the same, to the bit, and a recorded run must store, on
every backend, the figures, scores, grades and ranks the month's report shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casecraft import Engine, FixedClock
from casecraft.evaluation import monthly_report, record_month
from casecraft.evaluation.scoring import (
    COUNT_KEYS,
    DEFAULT_SCHEME,
    INDICATORS,
    FiguresJson,
    IndicatorSpec,
    composite,
    figures,
    figures_of,
    grade_for,
    ranks,
    score_units,
)
from tests.conftest import WORKFLOW
from tests.evaluation_month import built

# small counts so that zero denominators, equal scores (ties) and shared vectors all occur
vectors = st.tuples(*[st.integers(0, 6) for _ in COUNT_KEYS])
specs = st.lists(st.builds(IndicatorSpec, st.sampled_from(sorted(INDICATORS)), st.just("x"),
                           st.sampled_from([0.0, 5.0, 10.0, 12.5, 25.0, -1.0]),
                           st.sampled_from(["higher", "lower"])), min_size=1, max_size=6)
units = st.lists(st.tuples(st.sampled_from([None, "", "s1", "s2", "s3"]), vectors), max_size=40)


def _dumps(obj: Any) -> str:  # the store's JSON (casecraft.store.db)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@given(vectors)
def test_figures_of_a_vector_are_the_figures_of_its_counts(vec: tuple[int, ...]) -> None:
    assert figures_of(vec) == figures(dict(zip(COUNT_KEYS, vec, strict=True)))


@given(st.lists(vectors, max_size=30))
def test_figures_json_is_the_stored_json_of_the_figures(vecs: list[tuple[int, ...]]) -> None:
    as_json = FiguresJson()
    for vec in vecs + vecs:  # the second time from its cache
        assert as_json(vec) == _dumps(figures(dict(zip(COUNT_KEYS, vec, strict=True))))


def _reference(level_specs: list[IndicatorSpec], grades: Any, items: list[tuple[str, str | None, Any]]
               ) -> list[tuple[Any, ...]]:
    """What compute.rank_level did per unit before the scoring went by vectors."""
    figs = {code: figures(dict(zip(COUNT_KEYS, vec, strict=True))) for code, _g, vec in items}
    groups: dict[str | None, list[str]] = {}
    for code, group, _vec in items:
        groups.setdefault(group, []).append(code)
    rows = []
    for group, members in groups.items():
        group_max = {s.id: max((figs[m][s.id]["value"] or 0) for m in members) for s in level_specs
                     if not s.is_rate}
        scores = {m: composite(level_specs, figs[m], group_max) for m in members}
        ranked = ranks(scores.items())
        size = sum(1 for m in members if scores[m] is not None)
        rows.extend((m, group, scores[m], grade_for(scores[m], grades), ranked.get(m), size) for m in members)
    return sorted(rows, key=lambda r: (r[1] or "", r[4] is None, r[4] or 0, r[0]))


@settings(max_examples=300)
@given(specs, units)
def test_score_units_matches_the_per_unit_rules(level_specs: list[IndicatorSpec],
                                                members: list[tuple[str | None, tuple[int, ...]]]) -> None:
    items = [(f"u{i:03d}", group, vec) for i, (group, vec) in enumerate(members)]
    got = score_units(level_specs, DEFAULT_SCHEME.grades, items)
    assert [(r.unit, r.group, r.score, r.grade, r.rank, r.group_size) for r in got] == _reference(
        level_specs, DEFAULT_SCHEME.grades, items)
    assert {r.unit: r.counts for r in got} == {code: vec for code, _g, vec in items}


def test_ties_share_a_rank_and_unscorable_units_go_last() -> None:
    rate = IndicatorSpec("closure_rate", "结案率", 1.0)
    vec = {k: 0 for k in COUNT_KEYS}

    def v(closed: int, due: int) -> tuple[int, ...]:
        return tuple({**vec, "closed": closed, "due": due}.values())

    got = score_units([rate], DEFAULT_SCHEME.grades,
                      [("a", "s", v(1, 2)), ("b", "s", v(0, 0)), ("c", "s", v(2, 2)), ("d", "s", v(2, 4))])
    assert [(r.unit, r.score, r.grade, r.rank, r.group_size) for r in got] == [
        ("c", 100.0, "A", 1, 3), ("a", 50.0, "D", 2, 3), ("d", 50.0, "D", 2, 3), ("b", None, None, None, 3)]


@pytest.fixture
def november(db_url: str) -> Iterator[Engine]:
    _ids, now = built(db_url)
    eng = Engine(db_url, WORKFLOW, FixedClock(now))
    yield eng
    eng.close()


def test_a_recorded_run_stores_what_the_report_shows(november: Engine) -> None:
    """The bulk write (COPY on PostgreSQL, executemany on SQLite) stores each level's rows as the report has them."""
    eng = november
    run = record_month(eng, "2026-11")
    with eng.store.read() as tx:
        stored = tx.conn.exec_driver_sql(
            "SELECT r.level, r.unit_code, r.parent_code, CAST(r.figures AS TEXT), r.score, r.grade, r.rank "
            "FROM evaluation_results r "
            "JOIN evaluation_runs u ON u.id = r.run_id WHERE u.key = 'monthly:2026-11' ORDER BY r.id").all()
    expected = []
    for level in ("street", "community", "grid"):
        for r in monthly_report(eng, "2026-11", level).rows:
            expected.append((level, r.unit, r.group, r.figures, r.score, r.grade, r.rank))
    assert run.units == len(stored) == len(expected) == 7
    assert [(lv, u, p, json.loads(f), s, g, k) for lv, u, p, f, s, g, k in stored] == expected
    # the JSON column holds the text the store's serialiser writes (PostgreSQL's json type keeps it as given)
    assert [f for _lv, _u, _p, f, *_rest in stored] == [_dumps(e[3]) for e in expected]
