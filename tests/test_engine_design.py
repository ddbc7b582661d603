"""The redesign's promises (issue 12), through the public interfaces.

* The compiled machine is the single answer: the default workflow with every
  trigger renamed runs the worked example identically (routing and joint
  feedback are declared in the YAML, not keyed on trigger names).
* Two engines on one database: a deactivation made through one is obeyed at
  once by the other (people are read in the action's own transaction).
* Every command taking a case id refuses an out-of-range id cleanly.
* The layers hold (import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casecraft import Engine, FixedClock, NotFound, PermissionDenied
from casecraft.cli.main import app
from casecraft.demo import run_demo
from tests.conftest import ROOT, WORKFLOW, bj, sandbox, sandbox_db

SIDE_STEPS = {"extend", "request_extension", "approve_extension", "deny_extension", "park", "unpark", "urge"}


def _renamed_workflow(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    text = WORKFLOW.read_text(encoding="utf-8")
    ids = re.findall(r"- \{id: ([a-z_]+), label: [^}]*\}", text.split("triggers:")[1].split("states:")[0])
    mapping = {t: f"op_{t}" for t in ids if t not in SIDE_STEPS}
    for old, new in mapping.items():
        text = text.replace(f"{{id: {old}, label:", f"{{id: {new}, label:")
        text = text.replace(f"{{trigger: {old}, ", f"{{trigger: {new}, ")
    text = text.replace("organisation: organisation.yaml", f"organisation: {ROOT / 'organisation.yaml'}")
    path = tmp_path / "renamed.yaml"
    path.write_text(text, encoding="utf-8")
    return path, mapping


class _Renaming:
    """The engine, with the demo's trigger names mapped to the renamed workflow's."""

    def __init__(self, engine: Engine, mapping: dict[str, str]) -> None:
        self.engine, self.mapping = engine, mapping

    def report(self, **kw: Any) -> Any:
        return self.engine.report(**kw)

    def fire(self, case_id: int, trigger: str, **kw: Any) -> Any:
        return self.engine.fire(case_id, self.mapping.get(trigger, trigger), **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def _story(engine: Engine, case_ids: list[int], back: dict[str, str]) -> list[Any]:
    out = []
    for cid in case_ids:
        view = engine.get(cid)
        out.append((view.state, view.tier, view.unit, view.resolved_tier, view.open,
                    [(back.get(e.trigger, e.trigger), e.actor, e.from_state, e.to_state, e.unit, e.targets, e.outcome,
                      e.at) for e in view.timeline]))
    return out


def test_renamed_triggers_run_the_worked_example_identically(tmp_path: Path) -> None:
    renamed, mapping = _renamed_workflow(tmp_path)
    stories = []
    for name, wf, remap in (("plain", WORKFLOW, {}), ("renamed", renamed, mapping)):
        clock = FixedClock(bj(24, "08:30"))
        eng = sandbox(f"sqlite:///{tmp_path / (name + '.db')}", clock, wf)
        cases = run_demo(_Renaming(eng, remap), clock)  # type: ignore[arg-type]
        ids = [c.id for c in cases.values()]
        stories.append(_story(eng, ids, {v: k for k, v in remap.items()}))
        if remap:
            assert {e.trigger for c in ids for e in eng.get(c).timeline} <= set(remap.values())
        eng.close()
    assert stories[0] == stories[1]


def test_a_deactivation_in_one_engine_is_obeyed_at_once_by_another(db_url: str) -> None:
    clock = FixedClock(bj(24, "09:00"))
    one = sandbox(db_url, clock)
    two = Engine(db_url, WORKFLOW, clock)
    case = two.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    one.deactivate("lixia")
    with pytest.raises(PermissionDenied, match="deactivated"):
        two.fire(case.id, "resolve", actor="lixia")  # the long-lived engine asks the database, not its memory
    one.activate("lixia")
    assert two.fire(case.id, "resolve", actor="lixia").state == "to_check"
    one.close()
    two.close()


HUGE = "99999999999999999999"
NEG = "-1"
CASE_COMMANDS = [
    ["case", "show", "{id}"], ["case", "triggers", "{id}"], ["case", "fire", "{id}", "resolve", "--actor", "wangjg"],
    ["case", "urge", "{id}", "--actor", "duyan", "--note", "x"], ["case", "park", "{id}", "--actor", "fengzr",
                                                                    "--note", "x"],
    ["case", "unpark", "{id}", "--actor", "fengzr"], ["case", "extend", "{id}", "--actor", "fengzr", "--by",
                                                      "1 working day", "--note", "x"],
    ["case", "request-extension", "{id}", "--actor", "wangjg", "--by", "1 working day", "--note", "x"],
    ["case", "approve-extension", "{id}", "--actor", "fengzr"], ["case", "deny-extension", "{id}", "--actor",
                                                                 "fengzr", "--note", "x"],
    ["alerts", "ack", "{id}", "--actor", "zhoumin"], ["audit", "verify", "--case", "{id}"],
    ["alerts", "list", "--case", "{id}"],
]


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sandbox_db(f"sqlite:///{tmp_path_factory.mktemp('ids') / 'casecraft.db'}", None)


def test_every_command_taking_an_id_refuses_an_impossible_one(shared_sandbox: str) -> None:
    for value in (HUGE, "9223372036854775808", "0"):
        for args in CASE_COMMANDS:
            line = [a.replace("{id}", value) for a in args]
            result = CliRunner().invoke(app, ["--db", shared_sandbox, *line])
            assert result.exit_code in (1, 2), (line, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), (line, result.exception)
            assert "Traceback" not in result.output, line
            assert "no case" in result.stderr or "no alert" in result.stderr, (line, result.stderr)


def test_the_library_refuses_an_impossible_id(shared_sandbox: str) -> None:
    eng = Engine(shared_sandbox)
    for call in (lambda: eng.get(2**70), lambda: eng.urge(2**63, actor="duyan", note="x"),
                 lambda: eng.park(0, actor="fengzr", note="x"), lambda: eng.ack(2**64, actor="zhoumin")):
        with pytest.raises(NotFound):
            call()
    eng.close()


def test_the_layers_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_closed_engine_refuses_further_use_and_ids_must_be_numbers(tmp_path: Path) -> None:
    """QA, 2026-12-01: a closed Engine kept writing through a pool it reopened and never released; a case id given
    as a string was "no case 1"; a sweep with batch 0 silently raised nothing."""
    from casecraft import InputError, UnavailableError
    from tests.conftest import bj, sandbox

    eng = sandbox(f"sqlite:///{tmp_path / 'closed.db'}", FixedClock(bj(24, "09:00")))
    case = eng.report(source="patrol", grid="110106004005005", category="0101", desc="小广告", actor="wangjg")
    with pytest.raises(InputError, match="whole number"):
        eng.fire(str(case.id), "resolve", actor="wangjg")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least 1"):
        eng.sweep(batch=0)
    eng.close()
    for use in (lambda: eng.get(case.id), lambda: eng.list(), lambda: eng.sweep(),
                lambda: eng.fire(case.id, "resolve", actor="wangjg")):
        with pytest.raises(UnavailableError, match="closed"):
            use()
    with Engine(f"sqlite:///{tmp_path / 'closed.db'}", None, FixedClock(bj(24, "09:00"))) as again:
        assert again.get(case.id).version == 1  # nothing was written after close
