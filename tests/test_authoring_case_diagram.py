"""`casecraft case show CASE --diagram FILE`: the workflow version the case runs on, its path highlighted."""

from __future__ import annotations

from pathlib import Path

# Import alembic.config before any CliRunner swaps sys.stdout: its Config binds
# `stdout=sys.stdout` as a default argument at import time, and a stream CliRunner
# later closes breaks alembic for every later test (test_migrations).
import alembic.config  # noqa: F401
import pytest
from typer.testing import CliRunner

from tests.conftest import WORKFLOW
from tests.test_authoring_diagram import GRID5, _run


def test_case_show_draws_the_case_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--workflow", str(WORKFLOW), "--at", "2026-11-24T09:30"]
    _run(runner, *base, "init", "--sandbox")
    case = _run(runner, *base, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                "--desc", "小广告", "--actor", "wangjg").strip()
    _run(runner, *base, "case", "fire", case, "escalate", "--actor", "wangjg", "--note", "上报社区")
    shown = _run(runner, *base, "case", "show", case, "--diagram", str(tmp_path / "c.mmd"))
    assert "社区处置中" in shown  # the usual details still print
    text = (tmp_path / "c.mmd").read_text(encoding="utf-8")
    assert "class new,grid_handling visited" in text and "class community_handling current" in text
    _run(runner, *base, "case", "show", case, "--diagram", str(tmp_path / "c.dot"))
    import pygraphviz

    graph = pygraphviz.AGraph(string=(tmp_path / "c.dot").read_text(encoding="utf-8"))
    red = sorted((e[0], e[1]) for e in graph.edges() if e.attr.get("penwidth") == "2.5")
    assert red == [("grid_handling", "community_handling"), ("new", "grid_handling")]
    _run(runner, *base, "case", "show", case, "--diagram", str(tmp_path / "c.png"), "--json")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert "cannot tell" in _run(runner, *base, "case", "show", case, "--diagram", str(tmp_path / "c.gif"), code=2)
