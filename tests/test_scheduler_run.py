"""`casecraft scheduler run` end to end: the real APScheduler loop in a child process.

The child runs with a fixed time (CASECRAFT_NOW), so what it must raise is known;
the test waits for the child's own report line (no sleeping on a guess), then
stops it. Restarting it raises nothing more: the alerts are rows with unique keys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from casecraft import Engine, FixedClock
from tests.conftest import WORKFLOW, bj, sandbox

GRID5 = "110106004005005"


def _run_scheduler(db: str, now: str, wait_for: str, timeout: float = 60.0) -> list[str]:
    env = {**os.environ, "CASECRAFT_NOW": now, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "casecraft", "--db", db, "--workflow", str(WORKFLOW), "scheduler", "run",
         "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if wait_for in line or time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return lines


def test_scheduler_run_raises_due_alerts_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    clock = FixedClock(bj(24, "10:00"))
    with sandbox(db, clock) as eng:
        case_ids = [eng.report(source="patrol", grid=GRID5, category="0101", desc=f"小广告{i}",
                               actor="wangjg").id for i in range(3)]
    # Wednesday morning: each grid_handling step (due Tue 15:30) is overdue (its warning came too late to raise)
    lines = _run_scheduler(db, "2026-11-25T10:00", "raised 3 alert(s)")
    assert any("raised 3 alert(s)" in line for line in lines), lines
    with Engine(db, WORKFLOW, FixedClock(bj(25, "10:00"))) as eng:
        alerts = eng.alerts()
        assert sorted((a.case, a.kind) for a in alerts) == sorted((c, "overdue") for c in case_ids)
    # a second scheduler at the same moment raises nothing new
    lines = _run_scheduler(db, "2026-11-25T10:00", "raised 0 alert(s)", timeout=30)
    assert any("raised 0 alert(s)" in line for line in lines), lines
    with Engine(db, WORKFLOW, FixedClock(bj(25, "10:00"))) as eng:
        assert len(eng.alerts()) == 3


def test_scheduler_run_refuses_a_sink_it_cannot_build_before_it_starts(tmp_path: Path) -> None:
    """QA, 2026-12-01: with a webhook sink's environment variable unset, `scheduler run` raised alerts and sent
    nothing, saying nothing (its jobs' errors went to a logger without a handler)."""
    from typer.testing import CliRunner

    from casecraft.cli.main import app

    text = WORKFLOW.read_text(encoding="utf-8")
    hooked = tmp_path / "workflows.yaml"
    sink = "    - {type: log}\n    - {type: webhook, url_env: QA_HOOK}\n"
    hooked.write_text(text.replace("    - {type: log}\n", sink), encoding="utf-8")
    (tmp_path / "organisation.yaml").write_text((WORKFLOW.parent / "organisation.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    sandbox(db, FixedClock(bj(24, "10:00"))).close()
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db, "--workflow", str(hooked), "workflow", "publish"]).exit_code == 0
    result = runner.invoke(app, ["--db", db, "scheduler", "run", "--interval", "1"], env={"QA_HOOK": ""})
    assert result.exit_code == 2 and "QA_HOOK" in result.output and "Traceback" not in result.output
    assert "sweeping every" not in result.output  # refused before it started
