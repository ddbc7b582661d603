"""Workflow validation: one broken file per rule, each problem at its exact place.

Every fixture under ``tests/data/workflows/bad/`` is the minimal valid workflow
(``tests/data/workflows/minimal.yaml``) with one defect, named in its first
line. Each test asserts the file, line and column (1-based) of the reported
problem, a key phrase of its message and, where there is one, its hint. The
column is where the offending value starts (the key, for unknown keys).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from casecraft.base.errors import Problem, WorkflowError
from casecraft.workflows import load_workflow

DATA = Path(__file__).parent / "data" / "workflows"
BAD = DATA / "bad"


def load_problems(name: str) -> list[Problem]:
    """Load a broken fixture; return the problems of the WorkflowError it must raise."""
    with pytest.raises(WorkflowError) as info:
        load_workflow(BAD / name)
    problems = info.value.problems
    assert problems, "a WorkflowError must carry at least one problem"
    return problems


def where(p: Problem) -> tuple[str, int, int]:
    return Path(p.file).name, p.line, p.column


def only(problems: list[Problem], phrase: str) -> Problem:
    """The one problem whose message contains ``phrase``."""
    hits = [p for p in problems if phrase in p.message]
    assert len(hits) == 1, f"expected one problem with {phrase!r}, got: {[str(p) for p in problems]}"
    return hits[0]


# --- the valid baseline ----------------------------------------------------------


def test_minimal_workflow_loads() -> None:
    wf = load_workflow(DATA / "minimal.yaml")
    assert wf.id == "minimal"
    assert wf.initial == "new"
    assert wf.tiers == ["grid", "community", "street"]
    assert len(wf.states) == 8 and wf.states["closed"].final
    assert wf.org is not None
    assert wf.org_path is not None and wf.org_path.name == "minimal-org.yaml"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    # Windows editors often save UTF-8 with a byte-order mark.
    for name in ("minimal.yaml", "minimal-org.yaml"):
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + (DATA / name).read_bytes())
    assert load_workflow(tmp_path / "minimal.yaml").id == "minimal"


def test_yaml_1_2_keeps_no_off_yes_on_as_strings() -> None:
    wf = load_workflow(DATA / "yaml12_strings.yaml")
    assert wf.tier_labels == {"grid": "no", "community": "off", "street": "yes"}
    assert wf.roles["grid_leader"].label == "on"
    assert wf.states["new"].label == "n"
    assert {t.id: t.label for t in wf.file.triggers}["report"] == "y"
    assert wf.file.urgencies[0].label == "NO"
    assert wf.file.classes[0].label == "Off"
    assert all(isinstance(t.label, str) for t in wf.file.tiers)
    assert wf.data["tiers"][0] == {"id": "grid", "label": "no"}  # stored as text, never as false


# --- one rule, one file, one problem ---------------------------------------------


# (fixture, file the problem is in (None: the fixture), line, column, phrase of the message, phrase of the hint)
SINGLE_PROBLEM_CASES = [
    # reading and parsing
    ("yaml_syntax.yaml", None, 4, 13, "YAML: mapping values are not allowed here", None),
    ("duplicate_key.yaml", None, 29, 38, 'YAML: duplicate key "label"', "each key may appear once in a mapping"),
    ("not_utf8.yaml", None, 4, 1, "file is not UTF-8 text", "save it as UTF-8"),
    pytest.param("not_mapping.yaml", None, 2, 1, "the workflow file must be a mapping", None),
    # structure (pydantic)
    ("unknown_top_key.yaml", None, 51, 1, "unknown key 'version'", "allowed keys: workflow, tiers, roles"),
    ("missing_key.yaml", None, 40, 5, "missing required key 'dest' at transitions.1.dest", None),
    ("wrong_type.yaml", None, 36, 49, "states.7.final: Input should be a valid boolean (got 'yes')", None),
    ("numeric_code.yaml", None, 58, 12, "categories.0.code: Input should be a valid string", "quote it"),
    # references
    ("unknown_source.yaml", None, 40, 48, "unknown state 'comunity_handling'", "did you mean community_handling?"),
    ("unknown_dest.yaml", None, 48, 47, "unknown state 'comunity_handling'", "did you mean community_handling?"),
    ("unknown_initial.yaml", None, 7, 12, "unknown state 'neu'", "did you mean new?"),
    ("unknown_state_tier.yaml", None, 32, 50, "unknown tier 'comunity'", "did you mean community?"),
    ("unknown_role.yaml", None, 45, 81, "unknown role 'operater'", "did you mean operator?"),
    ("unknown_trigger.yaml", None, 41, 15, "unknown trigger 'escalte'", "did you mean escalate?"),
    ("unknown_class.yaml", None, 58, 41, "unknown class 'enforcment'", "did you mean enforcement?"),
    ("unknown_urgency.yaml", None, 58, 63, "unknown urgency 'urgent'", "known: normal"),
    ("unknown_responsible_unit.yaml", None, 59, 117, "unknown unit 'S1-cgdf'", "did you mean S1-cgfd?"),
    ("responsible_wrong_tier.yaml", None, 59, 117, "unit 'S1C1' is at tier community, not street", None),
    pytest.param("unknown_responsible_tier.yaml", None, 58, 109, "unknown tier 'stret'", "did you mean street?"),
    # the shape of the state machine
    ("unreachable_state.yaml", None, 37, 10, "state 'orphan' cannot be reached from 'new'",
     "add a transition into it or remove it"),
    ("dead_end_state.yaml", None, 37, 10, "state 'stuck' is not final and has no path to a final state",
     "a case entering it could never be closed"),
    ("leaves_final.yaml", None, 50, 31, "transition 'report' leaves the final state 'closed'",
     "final states have no way out"),
    ("escalate_skips_tier.yaml", None, 41, 54,
     "'escalate' must go exactly one tier up, but 'grid_handling' is at grid and 'street_handling' at street",
     "a state at community is expected"),
    ("relay_skips_tier.yaml", None, 45, 53,
     "'relay' must go exactly one tier down, but 'street_resolved' is at street and 'to_close' at grid",
     "a state at community is expected"),
    ("ambiguous_transition.yaml", None, 50, 5,
     "transition 'close' from 'to_close' is defined twice with the same conditions (first on line 49)", None),
    # values
    ("bad_duration.yaml", None, 30, 58, "bad duration '4 workin hours'", None),
    ("bad_timezone.yaml", None, 5, 13, "unknown timezone 'Asia/Shanghia'", "e.g. Asia/Shanghai"),
    ("bad_working_hours.yaml", None, 6, 18, "bad working period '13:30-1730'", None),
    # duplicate ids
    ("duplicate_state_id.yaml", None, 37, 10, "duplicate state id 'closed' (first defined on line 36)", None),
    ("duplicate_category_code.yaml", None, 59, 12, "duplicate category code '0101' (first defined on line 58)", None),
    ("duplicate_person_id.yaml", "duplicate_person_id-org.yaml", 17, 10,
     "duplicate person id 'zhou' (first defined on line 16)", None),
    ("duplicate_unit_code.yaml", "duplicate_unit_code-org.yaml", 13, 20,
     "duplicate unit code 'S1C1G1' (first defined on line 12)", None),
    # the organisation
    ("organisation_missing.yaml", None, 7, 17, "organisation file 'nowhere-org.yaml' not found", None),
    ("person_unknown_unit.yaml", "person_unknown_unit-org.yaml", 15, 34, "unknown unit 'S1C1G2'",
     "did you mean S1C1G1?"),
    ("person_unknown_role.yaml", "person_unknown_role-org.yaml", 15, 52, "unknown role 'grid_leadr'",
     "did you mean grid_leader?"),
    ("unit_tier_skip.yaml", "unit_tier_skip-org.yaml", 8, 44,
     "unit 'S1G9' at tier grid sits under 'S1' at tier street; a platform unit must be exactly one tier below "
     "its parent", None),
]


def _fixture_of(case: object) -> str:
    values = getattr(case, "values", case)  # a pytest.param or a plain tuple
    return values[0]  # type: ignore[index]


@pytest.mark.parametrize(("fixture", "in_file", "line", "column", "phrase", "hint"), SINGLE_PROBLEM_CASES,
                         ids=[_fixture_of(c) for c in SINGLE_PROBLEM_CASES])
def test_one_rule_one_problem(
    fixture: str, in_file: str | None, line: int, column: int, phrase: str, hint: str | None
) -> None:
    problems = load_problems(fixture)
    assert len(problems) == 1, [str(p) for p in problems]
    p = problems[0]
    assert phrase in p.message, str(p)
    assert where(p) == (in_file or fixture, line, column), str(p)
    if hint is not None:
        assert p.hint is not None and hint in p.hint, str(p)
    assert p.severity == "error"


def test_every_broken_fixture_is_exercised() -> None:
    named = {_fixture_of(c) for c in SINGLE_PROBLEM_CASES}
    named |= {"unknown_state_key.yaml", "missing_two_keys.yaml", "no_final_state.yaml", "many_problems.yaml",
              "many_structural.yaml", "alias_bomb.yaml", "deep_nesting.yaml"}
    organisations = {"org.yaml"} | {f.name for f in BAD.glob("*-org.yaml")}
    on_disk = {f.name for f in BAD.glob("*.yaml")} - organisations
    assert on_disk == named


# --- rules whose defect shows as more than one problem ---------------------------


def test_unknown_key_in_a_state_suggests_the_right_one() -> None:
    # `lable` instead of `label`: an unknown key (at the key) and the missing one (at the state).
    problems = load_problems("unknown_state_key.yaml")
    assert len(problems) == 2, [str(p) for p in problems]
    unknown = only(problems, "unknown key 'lable'")
    assert where(unknown) == ("unknown_state_key.yaml", 30, 25)
    assert unknown.hint == "did you mean label?"
    missing = only(problems, "missing required key 'label'")
    assert where(missing) == ("unknown_state_key.yaml", 30, 5)


def test_no_final_state() -> None:
    problems = load_problems("no_final_state.yaml")
    p = only(problems, "no state is final")
    assert where(p) == ("no_final_state.yaml", 29, 3)  # where the states list starts
    assert p.hint is not None and "final: true" in p.hint


def test_all_semantic_problems_are_reported_at_once() -> None:
    problems = load_problems("many_problems.yaml")
    found = {(*where(p), p.message.split(":")[0]) for p in problems}
    assert found == {
        ("many_problems.yaml", 5, 13, "unknown timezone 'Asia/Shanghia'"),
        ("many_problems.yaml", 31, 45, "unknown tier 'gird'"),
        ("many_problems.yaml", 31, 58, "bad duration '4 workin hours'"),
        ("many_problems.yaml", 42, 95, "unknown role 'operater'"),
        ("many_problems.yaml", 46, 53, "'relay' must go exactly one tier down, but 'street_resolved' is at street "
                                       "and 'to_close' at grid"),
        ("many_problems.yaml", 59, 41, "unknown class 'enforcment'"),
        ("many_problems-org.yaml", 15, 52, "unknown role 'grid_leadr'"),
    }
    assert len(problems) == 7
    assert "7 problems in the workflow" in str(WorkflowError(problems))


def test_all_structural_problems_are_reported_at_once() -> None:
    problems = load_problems("many_structural.yaml")
    assert sorted((where(p)[1:]) for p in problems) == [(30, 5), (30, 25), (36, 49), (58, 12)]
    only(problems, "missing required key 'label'")
    only(problems, "unknown key 'lable'")
    only(problems, "states.7.final")
    only(problems, "categories.0.code")


def test_two_keys_missing_from_one_state_are_both_reported() -> None:
    problems = load_problems("missing_two_keys.yaml")
    assert {(where(p), p.message) for p in problems} == {
        (("missing_two_keys.yaml", 29, 5), "missing required key 'label' at states.0.label"),
        (("missing_two_keys.yaml", 29, 5), "missing required key 'tier' at states.0.tier"),
    }


def test_numeric_code_hint_keeps_the_leading_zero() -> None:
    (p,) = load_problems("numeric_code.yaml")
    assert p.hint is not None and '"0101"' in p.hint


# --- hostile input --------------------------------------------------------------


def _load_within(path: Path, seconds: float) -> BaseException | None:
    """Load in a daemon thread; return what it raised (None if it loaded). Fails if it takes too long."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load_workflow(path)
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    started = time.perf_counter()
    worker.start()
    worker.join(seconds)
    assert outcome, f"loading {path.name} did not finish within {seconds}s ({time.perf_counter() - started:.1f}s)"
    return outcome[0]


def test_alias_bomb_is_refused_quickly() -> None:
    exc = _load_within(BAD / "alias_bomb.yaml", 10)
    assert isinstance(exc, WorkflowError), repr(exc)
    (p,) = exc.problems
    assert "alias bomb" in p.message and "200000 nodes" in p.message
    assert p.hint is not None and "anchors and aliases" in p.hint
    assert where(p) == ("alias_bomb.yaml", 7, 8)  # the alias that expands past the limit


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    (p,) = load_problems("deep_nesting.yaml")
    assert Path(p.file).name == "deep_nesting.yaml"
