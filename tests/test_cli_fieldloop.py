"""The field loop's side steps from the command line: extension requests, parking, the problem register."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import CLI, DAY, _isolate, bj, expect


@pytest.fixture
def cc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    _isolate(monkeypatch, tmp_path)
    return CLI(tmp_path / "casecraft.db")


def test_extension_request_and_approval(cc: CLI) -> None:
    case_id = cc.report_patrol(at=f"{DAY}T10:00")  # grid_handling: due 15:30
    out = cc.json("case", "request-extension", str(case_id), "--actor", "wangjg", "--by", "1 working day",
                  "--note", "需商户配合", at=f"{DAY}T10:30")
    assert out["extension_request"]["by"] == "1 working day" and out["extension_request"]["actor"] == "wangjg"
    assert out["deadline"]["due_at"] == bj(f"{DAY}T15:30")
    # a grid leader may not approve it: exit 1, nothing changes
    before = cc.show(case_id)
    r = expect(cc("case", "approve-extension", str(case_id), "--actor", "wangjg", at=f"{DAY}T10:40"), 1)
    assert "leader" in r.stderr
    assert cc.show(case_id) == before
    out = cc.json("case", "approve-extension", str(case_id), "--actor", "fengzr", at=f"{DAY}T11:00")
    assert out["deadline"]["due_at"] == bj("2026-11-25T15:30") and out["deadline"]["extended"] == 1
    assert out["extension_request"] is None
    assert [e["trigger"] for e in out["timeline"]] == ["report", "request_extension", "approve_extension"]
    text = cc.ok("case", "show", str(case_id), at=f"{DAY}T11:00").stdout
    assert "批准延期" in text and "2026-11-25 15:30" in text


def test_deny_needs_a_reason(cc: CLI) -> None:
    case_id = cc.report_patrol(at=f"{DAY}T10:00")
    cc.ok("case", "request-extension", str(case_id), "--actor", "wangjg", "--by", "2 working hours",
          "--note", "x", at=f"{DAY}T10:30")
    r = expect(cc("case", "deny-extension", str(case_id), "--actor", "fengzr", at=f"{DAY}T10:40"), 2)
    assert "--note" in r.stderr
    out = cc.json("case", "deny-extension", str(case_id), "--actor", "fengzr", "--note", "可按时办结",
                  at=f"{DAY}T10:40")
    assert out["extension_request"] is None and out["deadline"]["due_at"] == bj(f"{DAY}T15:30")
    r = expect(cc("case", "request-extension", str(case_id), "--actor", "wangjg", "--by", "soon",
                  "--note", "x", at=f"{DAY}T10:50"), 2)
    assert "bad duration" in r.stderr


def test_park_list_and_unpark(cc: CLI) -> None:
    case_id = cc.report_patrol(at=f"{DAY}T10:00")
    other = cc.report_patrol(at=f"{DAY}T10:05")
    out = cc.json("case", "park", str(case_id), "--actor", "fengzr", "--note", "涉及产权纠纷", at=f"{DAY}T11:00")
    assert out["parked"] is True and out["deadline"] is None
    assert [c["id"] for c in cc.json("case", "list", "--parked", at=f"{DAY}T11:00")["cases"]] == [case_id]
    r = expect(cc("case", "fire", str(case_id), "resolve", "--actor", "wangjg", at=f"{DAY}T11:10"), 1)
    assert "parked" in r.stderr and "unpark" in r.stderr
    assert "挂账" in cc.ok("case", "show", str(case_id), at=f"{DAY}T11:10").stdout
    # a day later nothing was raised for the parked case; the other one is overdue
    sweep = cc.json("sweep", at="2026-11-25T11:00")
    assert {a["case"] for a in cc.json("alerts", "list", at="2026-11-25T11:00")} == {other}
    assert sweep["raised"] == 2
    out = cc.json("case", "unpark", str(case_id), "--actor", "fengzr", at="2026-11-26T10:00")
    assert out["parked"] is False and out["deadline"]["due_at"] == bj("2026-11-26T14:30")
    assert cc.json("case", "list", "--parked", at="2026-11-26T10:00")["cases"] == []
