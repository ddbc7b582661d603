"""`casecraft workflow validate --strict`: warnings with file:line:col and a hint; exit 0 unless --strict."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from casecraft.cli.main import app
from casecraft.workflows.lint import lint
from tests.conftest import WORKFLOW

DATA = Path(__file__).parent / "data"
LINT = DATA / "authoring" / "lint.yaml"


def test_every_warning_at_its_place() -> None:
    _, warnings = lint(LINT)
    found = [(Path(w.file).name, w.line, w.column, w.message.rsplit("[", 1)[1].rstrip("]")) for w in warnings]
    assert found == [
        ("lint.yaml", 4, 1, "no-warn-threshold"),       # workflow: has no warn_at
        ("lint.yaml", 14, 10, "no-way-back"),           # tier district
        ("lint.yaml", 19, 10, "role-without-people"),   # role auditor
        ("lint.yaml", 60, 12, "no-street-department"),  # category 0104
        ("lint.yaml", 60, 118, "no-warn-threshold"),    # 20 minutes warns 4 minutes before
    ]
    assert all(w.severity == "warning" and w.hint for w in warnings)
    by_code = {w.message.rsplit("[", 1)[1].rstrip("]"): w for w in warnings}
    assert "district_handling" in by_code["no-way-back"].hint
    assert "lint-org.yaml" in by_code["role-without-people"].hint
    assert "6 timed state(s)" in warnings[0].message and "warn_at: 0.8" in (warnings[0].hint or "")
    assert "4 minute(s)" in warnings[-1].message


def test_the_shipped_workflows_are_clean() -> None:
    assert lint(WORKFLOW)[1] == []


def test_validate_prints_warnings_and_exits_0_unless_strict() -> None:
    runner = CliRunner()
    plain = runner.invoke(app, ["workflow", "validate", str(LINT)])
    assert plain.exit_code == 0, plain.output
    assert "valid" in plain.stdout and "5 warning(s)" in plain.stdout
    assert "lint.yaml:19:10: warning: no person holds the role 'auditor'" in plain.stderr
    strict = runner.invoke(app, ["workflow", "validate", "--strict", str(LINT)])
    assert strict.exit_code == 1 and strict.stderr.count("warning:") == 5
    data = json.loads(runner.invoke(app, ["workflow", "validate", "--json", str(LINT)]).stdout)
    assert data["valid"] is True and len(data["warnings"]) == 5 and data["warnings"][1]["line"] == 14
    clean = runner.invoke(app, ["workflow", "validate", "--strict", str(WORKFLOW)])
    assert clean.exit_code == 0 and "warning" not in clean.output
    wrong_type = DATA / "workflows" / "bad" / "wrong_type.yaml"
    broken = runner.invoke(app, ["workflow", "validate", "--strict", str(wrong_type)])
    assert broken.exit_code == 2  # errors stay errors
