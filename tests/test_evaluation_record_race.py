"""A recorded run that another process stores between the check and the write is returned, not doubled."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from casecraft import FixedClock
from casecraft.evaluation import record_month
from casecraft.evaluation import runs as runs_mod
from tests.conftest import bj, sandbox


def test_a_run_recorded_meanwhile_is_returned_and_its_results_kept(db_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    eng = sandbox(db_url, FixedClock(bj(2, "10:00", month=12)))
    first = record_month(eng, "2026-11")
    assert first.created and first.units > 0
    real = runs_mod.q.run_by_key
    calls: list[str] = []

    def missed_once(tx: Any, key: str) -> Any:  # the first look finds nothing: the other process was late
        calls.append(key)
        return None if len(calls) == 1 else real(tx, key)

    monkeypatch.setattr(runs_mod.q, "run_by_key", missed_once)
    again = record_month(eng, "2026-11")
    assert len(calls) == 2  # the check, then the lookup after the insert found the key taken
    assert (again.created, again.units, again.computed_at) == (False, first.units, first.computed_at)
    with eng.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evaluation_runs")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM evaluation_results")).scalar() == first.units
    eng.close()
