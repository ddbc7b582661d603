"""Least privilege: every transition of the default workflow, tried by every person of the organisation.

Eight case histories (patrol, informant, hotline, superior order, rejected,
street leaders' 批件 both ways, joint meeting) together pass through every transition in workflows.yaml; the test
checks that they do. At every step each person of organisation.yaml tries the
next trigger through ``Engine.fire``: those the rules refuse (wrong role,
wrong unit, not a dispatched party) get ``PermissionDenied`` and change
nothing; then one person who may fires it. An independent oracle (the role and
unit rules as README states them) says who may. Extensions (延期) and urging
(督办) are checked the same way, and the database password never shows.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casecraft import DatabaseError, Engine, FixedClock, PermissionDenied
from casecraft.cli.main import app
from casecraft.store.db import safe_url
from casecraft.workflows.org import Organisation, OrgPerson
from tests.conftest import ROOT, WORKFLOW, bj, sandbox

GRID5 = "110106004005005"
COMM_E = "110106004005"
DISTRICT_DEPT = "songjie"

# (source of the case, category, [(trigger, extra arguments)]); targets as an operator would give them
HISTORIES: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
    ("patrol", "0101", [
        ("dispatch", {"to": ["liuqiang"]}), ("feedback", {"outcome": "unsolved"}),
        ("dispatch", {"to": ["liuqiang"]}), ("return", {}),
        ("dispatch", {"to": ["liuqiang"]}), ("feedback", {"outcome": "solved"}),
        ("rework", {}), ("resolve", {}), ("check", {}), ("close", {})]),
    ("informant", "0101", [("reject", {})]),
    ("informant", "0103", [
        ("verify", {}), ("escalate", {}), ("dispatch", {"to": ["zhangwei"]}), ("feedback", {"outcome": "unsolved"}),
        ("dispatch", {"to": ["zhangwei"]}), ("return", {}), ("dispatch", {"to": ["zhangwei"]}),
        ("feedback", {"outcome": "solved"}), ("relay", {}), ("rework", {}), ("resolve", {}), ("relay", {}),
        ("check", {}), ("close", {})]),
    ("hotline", "0201", [
        ("assign", {"to": [COMM_E]}), ("assign", {"to": [GRID5]}), ("verify", {}), ("escalate", {}),
        ("escalate", {}), ("dispatch", {}), ("feedback", {"outcome": "unsolved"}), ("dispatch", {}), ("return", {}),
        ("dispatch", {}), ("feedback", {"outcome": "solved"}), ("relay", {}), ("relay", {}), ("rework", {}),
        ("resolve", {}), ("relay", {}), ("relay", {}), ("check", {}), ("close", {})]),
    ("order", "0203", [
        ("assign", {"to": [COMM_E]}), ("assign", {"to": [GRID5]}), ("verify", {}), ("escalate", {}),
        ("escalate", {}), ("escalate", {}), ("dispatch", {"to": [DISTRICT_DEPT]}),
        ("feedback", {"outcome": "unsolved"}), ("dispatch", {"to": [DISTRICT_DEPT]}), ("return", {}),
        ("dispatch", {"to": [DISTRICT_DEPT]}), ("feedback", {"outcome": "solved"}), ("relay", {}), ("relay", {}),
        ("relay", {}), ("rework", {}), ("resolve", {}), ("relay", {}), ("relay", {}), ("relay", {}),
        ("check", {}), ("close", {})]),
    # unclear responsibility (责任不清): the street operator refers it to the leaders (批件), who dispatch
    ("patrol", "0104", [
        ("escalate", {}), ("escalate", {}), ("refer", {}), ("dispatch", {"to": ["110106004-cgfd"]}),
        ("feedback", {"outcome": "solved"}), ("relay", {}), ("relay", {}), ("check", {}), ("close", {})]),
    # ... or send it up to the district
    ("patrol", "0303", [
        ("escalate", {}), ("escalate", {}), ("refer", {}), ("escalate", {}), ("resolve", {}), ("relay", {}),
        ("relay", {}), ("relay", {}), ("check", {}), ("close", {})]),
    ("patrol", "0302", [
        ("escalate", {}), ("escalate", {}), ("escalate", {}), ("convene", {}), ("resolve", {}), ("relay", {}),
        ("relay", {}), ("relay", {}), ("relay", {}), ("rework", {}), ("resolve", {}), ("relay", {}), ("relay", {}),
        ("relay", {}), ("relay", {}), ("check", {}), ("close", {})]),
]


def oracle(org: Organisation, roles: set[str], subtree: set[str], person: OrgPerson, case: dict[str, Any],
           assignee: bool) -> str | None:
    """Why ``person`` may not act (``"role"`` or ``"unit"``), or None if they may — the rules as documented."""
    mine = set(person.roles) & roles
    if not mine:
        return "role"
    if assignee:
        return None if person.id in case["assignees"] or person.unit in case["assignees"] else "unit"
    if person.unit == case["unit"]:
        return None
    if mine & subtree and org.within(case["unit"], person.unit):
        return None
    return "unit"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = sandbox(db_url, FixedClock(bj(24, "09:00")))
    yield eng
    eng.close()


def test_every_transition_every_person(engine: Engine) -> None:
    wf = engine.workflow
    org = engine.organisation()
    people = sorted(org.people.values(), key=lambda p: p.id)
    subtree = {r for r, spec in wf.roles.items() if spec.scope == "subtree"}
    seen: set[tuple[str, str, str]] = set()
    refusals: Counter[tuple[str, str]] = Counter()
    grants: Counter[str] = Counter()
    clock = engine.clock

    for n, (source, category, steps) in enumerate(HISTORIES):
        # the report itself: who may report this kind of case at grid 5
        report_tr = next(t for t in wf.file.transitions if t.trigger == "report" and t.when
                         and t.when.source == source)
        unit = engine.org.at_tier(GRID5, wf.states[report_tr.dest].tier)
        probe = {"unit": unit, "assignees": []}
        ref = f"T-{n}" if source in ("hotline", "order") else None
        before = engine.snapshot()
        reporter = None
        for p in people:
            why = oracle(org, set(report_tr.roles), subtree, p, probe, False)
            if why is None:
                reporter = reporter or p
                continue
            with pytest.raises(PermissionDenied):
                engine.report(source=source, grid=GRID5, category=category, desc="测试", actor=p.id, ref=ref)
            refusals[("report", why)] += 1
        assert engine.snapshot() == before
        assert reporter is not None, source
        case_id = engine.report(source=source, grid=GRID5, category=category, desc="测试", actor=reporter.id,
                                ref=ref).id
        grants["report"] += 1
        seen.add(("report", "new", report_tr.dest))

        for trigger, extra in steps:
            clock.advance(minutes=5)
            view = engine.get(case_id)
            picked = engine.machine_for(1).next_state(view.state, trigger, source=source,
                                                      outcome=extra.get("outcome"),
                                                      resolved_tier=view.resolved_tier)
            assert picked is not None, (source, view.state, trigger)
            dest, tr = picked
            case = {"unit": view.unit, "assignees": list(view.assignees)}
            kwargs = {"note": "记录", **extra}
            before = engine.snapshot()
            allowed: list[OrgPerson] = []
            for p in people:
                why = oracle(org, set(tr.roles), subtree, p, case, tr.actor == "assignee")
                if why is None:
                    allowed.append(p)
                    continue
                with pytest.raises(PermissionDenied):
                    engine.fire(case_id, trigger, actor=p.id, **kwargs)
                refusals[(trigger, why)] += 1
            assert engine.snapshot() == before, (trigger, view.state)
            assert allowed, (trigger, view.state)
            # prefer someone at the case's own unit (a leader above it may act too, but is the exception)
            actor = next((p for p in allowed if p.unit == view.unit), allowed[0])
            after = engine.fire(case_id, trigger, actor=actor.id, **kwargs)
            assert after.state == dest
            grants[trigger] += 1
            seen.add((trigger, view.state, dest))
        assert not engine.get(case_id).open

    every = {(t.trigger, s, t.dest) for t in wf.file.transitions
             for s in ([t.source] if isinstance(t.source, str) else t.source)}
    assert every - seen == set(), "transitions no history reaches"
    triggers = {t.trigger for t in wf.file.transitions}
    for trig in triggers:
        assert grants[trig] >= 1, trig
        assert refusals[(trig, "role")] >= 1, trig
        assert refusals[(trig, "unit")] >= 1, trig
    print(f"\npermission checks: {sum(refusals.values())} refusals, {sum(grants.values())} grants, "
          f"{len(seen)} transitions")


def _case_at(engine: Engine, tier_steps: int) -> int:
    """A patrol case at grid 5 escalated ``tier_steps`` times (0: grid, 1: community, ...)."""
    case = engine.report(source="patrol", grid=GRID5, category="0104", desc="暴露垃圾", actor="wangjg").id
    actors = ["wangjg", "zhoumin", "wujing"]
    for i in range(tier_steps):
        engine.fire(case, "escalate", actor=actors[i], note="上报")
    return case


def test_extension_needs_a_leader_above_the_case(engine: Engine) -> None:
    community = _case_at(engine, 1)
    district = _case_at(engine, 3)
    before = engine.snapshot()
    for actor, case in [("wujing", community), ("zhoumin", community), ("duyan", community),  # wrong role
                        ("fengzr", district)]:  # a street leader, the case is at the district
        with pytest.raises(PermissionDenied):
            engine.extend(case, actor=actor, by="1 working day", note="需协调")
    assert engine.snapshot() == before
    engine.extend(community, actor="fengzr", by="1 working day", note="需协调地区单位")
    engine.extend(district, actor="yangfq", by="1 working day", note="需协调")


def test_urging_needs_a_supervisor_or_a_superior_platform(engine: Engine) -> None:
    grid = _case_at(engine, 0)
    before = engine.snapshot()
    for actor in ("wangjg", "liuqiang", "zhenglei",  # wrong role: grid leader, dispatched member, department
                  "gaofei", "sunli"):  # another community's operator; not above grid 5
        with pytest.raises(PermissionDenied):
            engine.urge(grid, actor=actor, note="请办理")
    assert engine.snapshot() == before
    engine.urge(grid, actor="duyan", note="请今日办结")  # the street's grid supervisor
    engine.urge(grid, actor="zhoumin", note="请今日办结")  # the superior platform


# --------------------------------------------------------------------------- the password never shows

SECRET = "s3cr3t-pw"
URLS = [
    f"postgresql+psycopg://casecraft:{SECRET}@127.0.0.1:1/casecraft",  # nothing listens on port 1
    f"postgresql://casecraft:{SECRET}@127.0.0.1:1/casecraft",
    f"postgresql+psycopg://casecraft:{SECRET}@host.invalid/casecraft",
    f"mysql://casecraft:{SECRET}@127.0.0.1/casecraft",  # no driver installed
]


@pytest.mark.parametrize("url", URLS)
def test_safe_url_hides_the_password(url: str) -> None:
    shown = safe_url(url)
    assert SECRET not in shown and "***" in shown
    assert safe_url(f"postgresql+psycopg://u:{SECRET}@[::1/x") == "<database url>"  # unparseable: nothing


COMMANDS = [["init"], ["case", "list"], ["audit", "verify"], ["export", "x.jsonl"], ["import-backup", "x.jsonl"],
            ["sweep"]]
# every command with the unreachable server; every kind of bad URL with one command
ATTEMPTS = [(URLS[0], args) for args in COMMANDS] + [(url, ["case", "list"]) for url in URLS[1:]]


@pytest.mark.parametrize(("url", "args"), ATTEMPTS)
def test_cli_errors_never_show_the_password(url: str, args: list[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(app, ["--db", url, *args])
    assert result.exit_code == 2, result.output
    assert "cannot open the database" in result.stderr or "no driver" in result.stderr
    assert SECRET not in result.output and SECRET not in caplog.text
    assert "Traceback" not in result.output
    # the same through the environment variable
    env = CliRunner().invoke(app, args, env={"CASECRAFT_DB": url})
    assert env.exit_code == 2 and SECRET not in env.output


def test_the_library_error_and_its_traceback_hide_the_password() -> None:
    with pytest.raises(DatabaseError) as info:
        Engine(URLS[0])
    text = "".join(traceback.format_exception(info.value))
    assert SECRET not in text and SECRET not in repr(info.value) and "***" in text


def test_a_real_process_never_prints_the_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    env.update(PYTHONPATH=str(ROOT), CASECRAFT_DB=URLS[0])
    proc = subprocess.run([sys.executable, "-m", "casecraft", "case", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert SECRET not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_a_connected_engine_hides_the_password(pg_url: str) -> None:
    """The test server trusts local connections, so a URL with a password connects: nothing shows it."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password=SECRET).render_as_string(hide_password=False)
    with Engine(url, WORKFLOW, FixedClock(bj(24, "09:00"))) as eng:
        assert SECRET not in repr(eng.store.engine) and SECRET not in str(eng.store.engine.url)
    result = CliRunner().invoke(app, ["--db", url, "--workflow", str(WORKFLOW), "init", "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "database ready" in result.stdout and SECRET not in result.output


def test_a_malformed_port_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--db", f"postgresql://u:{SECRET}@host:notaport/x", "init"])
    assert SECRET not in result.output
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
