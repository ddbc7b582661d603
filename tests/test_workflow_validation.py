"""Workflow validation: one broken file per rule, each problem at its exact place.

Every fixture under ``tests/data/workflows/bad/`` is the minimal valid workflow
(``tests/data/workflows/minimal.yaml``) with one defect, named in its first
line. Each test asserts the file, line and column (1-based) of the reported
problem, a key phrase of its message and, where there is one, its hint. The
column is where the offending value starts (the key, for unknown keys).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from casecraft.base.errors import Problem, WorkflowError
from casecraft.workflows import load_workflow, yamlio
from casecraft.workflows.loader import load_organisation

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
              "many_structural.yaml", "alias_bomb.yaml", "deep_nesting.yaml", "three_stages.yaml",
              "every_stage.yaml"}
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
    # refused at the 65th level (the 64th bracket, under the root mapping), not after 5000
    assert where(p) == ("deep_nesting.yaml", 2, 11 + 63)
    assert "nested too deeply (more than 64 levels)" in p.message


# --- every stage at once (issue 13) ----------------------------------------------


def test_issue_13_bad_direction_duplicate_tier_and_bad_duration_together() -> None:
    # the issue's reproduction: a structure problem used to hide the two semantic ones
    problems = load_problems("three_stages.yaml")
    assert [(where(p), p.message.split(":")[0]) for p in problems] == [
        (("three_stages.yaml", 14, 10), "duplicate tier id 'grid' (first defined on line 11)"),
        (("three_stages.yaml", 25, 42), "triggers.2.direction"),
        (("three_stages.yaml", 32, 58), "bad duration '4 workin hours'"),
    ]
    assert "Input should be 'up', 'down' or 'none' (got 'upward')" in problems[1].message


def test_every_stage_of_both_files_in_one_run() -> None:
    # YAML (a bad tag, a duplicate key), structure (an unknown key, a transition without dest, a bad
    # unit kind) and meaning (an unknown state in another transition, an unknown class, an unknown
    # role, a duplicate person), in the workflow and in its organisation
    problems = load_problems("every_stage.yaml")
    assert [(*where(p), p.message.split(" (")[0]) for p in problems] == [
        ("every_stage.yaml", 4, 12, "YAML: unsupported tag '!!python/name:os.system'"),
        ("every_stage.yaml", 17, 35, 'YAML: duplicate key "label"'),
        ("every_stage.yaml", 19, 52, "unknown key 'colour' at roles.2.colour"),
        ("every_stage.yaml", 42, 5, "missing required key 'dest' at transitions.1.dest"),
        ("every_stage.yaml", 47, 30, "unknown state 'street_resolvd'"),
        ("every_stage.yaml", 60, 41, "unknown class 'enforcment'"),
        ("every_stage-org.yaml", 7, 45, "units.0.children.0.kind: Input should be 'platform', 'department' or "
                                        "'area_unit'"),
        ("every_stage-org.yaml", 15, 52, "unknown role 'grid_leadr'"),
        ("every_stage-org.yaml", 17, 10, "duplicate person id 'zhou'"),
    ]
    # the tag's value is not reported a second time as "warn_at: Input should be a valid number"
    assert not any("warn_at" in p.message for p in problems)
    assert {p.hint for p in problems if "unknown" in p.message} >= {
        "did you mean street_resolved?", "did you mean enforcement?", "did you mean grid_leader?",
        "allowed keys: id, label, scope"}


def _variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """minimal.yaml with text replacements, beside a copy of its organisation."""
    text = (DATA / "minimal.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    shutil.copyfile(DATA / "minimal-org.yaml", tmp_path / "minimal-org.yaml")
    path = tmp_path / "variant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems_of(path: Path) -> list[Problem]:
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    return info.value.problems


def test_a_broken_transition_does_not_hide_a_reference_elsewhere(tmp_path: Path) -> None:
    # and the typo in the only way to 'closed' is not followed by "cannot be reached" for every state
    path = _variant(tmp_path, ("{trigger: report, source: new, dest: grid_handling, roles: [grid_leader]}",
                               "{trigger: report, source: new, dest: grid_handling, roles: grid_leader}"),
                    ("{trigger: close, source: to_close, dest: closed,", "{trigger: close, source: to_close, "
                                                                        "dest: clsoed,"))
    assert sorted(p.message.split(" (")[0] for p in _problems_of(path)) == [
        "transitions.0.roles: Input should be a valid list", "unknown state 'clsoed'"]


def test_the_shape_is_not_judged_on_a_broken_transition(tmp_path: Path) -> None:
    # without its dest the closing transition is no way to 'closed': that is one problem, not a
    # cascade of "cannot be reached" and "no path to a final state"
    path = _variant(tmp_path, ("{trigger: close, source: to_close, dest: closed, roles: [grid_leader]}",
                               "{trigger: close, source: to_close, roles: [grid_leader]}"))
    (p,) = _problems_of(path)
    assert p.message == "missing required key 'dest' at transitions.10.dest"


def test_a_section_of_the_wrong_type_does_not_cascade(tmp_path: Path) -> None:
    # tiers is not a list: the states' tiers are not each reported unknown, the other sections are checked
    path = _variant(tmp_path, ("tiers:\n  - {id: grid, label: 网格}\n  - {id: community, label: 社区}\n"
                               "  - {id: street, label: 街道}", "tiers: grid community street"),
                    ("urgency: normal,", "urgency: urgnet,"))
    assert [p.message.split(" (")[0] for p in _problems_of(path)] == [
        "tiers: Input should be a valid list", "unknown urgency 'urgnet'"]


def test_a_duplicate_tier_does_not_shift_the_tier_steps(tmp_path: Path) -> None:
    path = _variant(tmp_path, ("  - {id: street, label: 街道}\n", "  - {id: street, label: 街道}\n"
                                                                   "  - {id: grid, label: 网格二}\n"))
    (p,) = _problems_of(path)
    assert p.message == "duplicate tier id 'grid' (first defined on line 11)"


def test_a_case_is_reported_by_exactly_one_trigger(tmp_path: Path) -> None:
    # the engine takes the one trigger out of the initial state as the way a case is reported
    path = _variant(tmp_path, ("  - {trigger: close, source: to_close,",
                               "  - {trigger: close, source: [to_close, new],"))
    (p,) = _problems_of(path)
    assert (p.line, p.column) == (8, 12)
    assert p.message == ("the initial state 'new' is left by 2 triggers (report, close); "
                         "a case is reported by exactly one")
    assert p.hint is not None and "when:" in p.hint


def test_structure_and_meaning_of_the_organisation_together(tmp_path: Path) -> None:
    path = _variant(tmp_path, ("label: 上报, direction: up}", "label: 上报, direction: 1}"))
    org = tmp_path / "minimal-org.yaml"
    org.write_text(org.read_text(encoding="utf-8")
                   .replace('unit: "S1C1G1", roles: [grid_leader]', 'unit: "S1C1G9", roles: [grid_leader], x: 1')
                   .replace("? ", ""), encoding="utf-8")
    found = {(Path(p.file).name, p.message.split(" (")[0]) for p in _problems_of(path)}
    assert found == {
        ("variant.yaml", "triggers.2.direction: Input should be 'up', 'down' or 'none'"),
        ("minimal-org.yaml", "unknown key 'x' at people.0.x"),
        ("minimal-org.yaml", "unknown unit 'S1C1G9'"),
    }


def test_an_organisation_reloaded_on_its_own_reports_every_problem(tmp_path: Path) -> None:
    wf = load_workflow(DATA / "minimal.yaml")
    org = tmp_path / "org.yaml"
    org.write_text((DATA / "minimal-org.yaml").read_text(encoding="utf-8")
                   .replace("tier: grid}", "tier: grid, tier: grid}")  # YAML: a duplicate key
                   .replace("name: 城管分队, kind: department", "name: 城管分队, kind: dept")  # structure
                   .replace("roles: [operator]}", "roles: [operater]}", 1), encoding="utf-8")  # meaning
    with pytest.raises(WorkflowError) as info:
        load_organisation(org, wf)
    assert [(p.line, p.message.split(" (")[0]) for p in info.value.problems] == [
        (7, "units.0.children.0.kind: Input should be 'platform', 'department' or 'area_unit'"),
        (12, 'YAML: duplicate key "tier"'),
        (16, "unknown role 'operater'"),
    ]
    assert set(load_organisation(DATA / "minimal-org.yaml", wf).units) == {"S1", "S1-cgfd", "S1C1", "S1C1G1"}


# --- YAML oddities: a positioned problem, never a TypeError ------------------------


@pytest.fixture(params=["libyaml", "pure"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with libyaml (the fast path, when installed) and with the pure parser (the reference)."""
    if request.param == "pure":
        monkeypatch.setattr(yamlio, "_c_parser", lambda: None)
    elif yamlio._c_parser() is None:
        pytest.skip("ruamel.yaml.clib is not installed")
    yield request.param


ODDITIES = [
    # (edit of minimal.yaml, line, column, message)
    (("initial: new\n", "initial: new\n? [[x]]\n: y\n"), 9, 3, "YAML: a list cannot be a mapping key"),
    (("initial: new\n", "initial: new\n  ? {a: b}\n  : y\n"), 9, 5, "YAML: a mapping cannot be a mapping key"),
    (("{id: grid, label: 网格}", "{id: grid, label: 网格, [x]: y}"), 11, 27, "YAML: a list cannot be a mapping key"),
    (("{id: grid, label: 网格}\n  - {id: community, label: 社区}",
      "{id: grid, label: &g 网格}\n  - {id: community, label: 社区, *g : x}"), 12, 32,
     "YAML: an alias (*g) cannot be a mapping key"),
    (("  id: minimal", "  !!python/name:os.system id: minimal"), 3, 3,
     "YAML: unsupported tag '!!python/name:os.system' on a key"),
    (("  name: 最小流程", "  name: !!binary 5pyA5bCP"), 4, 9, "YAML: unsupported tag '!!binary'"),
    (("roles:\n", "roles: !!omap\n"), 15, 8, "YAML: unsupported tag '!!omap'"),
    (("{trigger: report,", "{<<: report, trigger: report,"), 40, 10,
     "YAML: a merge key (<<) takes a mapping or a list of mappings"),
    (("label: 社区}", "label: *nowhere}"), 12, 28, "YAML: unknown alias *nowhere"),
    (("workflow:\n", "workflow: &w\n  self: *w\n"), 3, 9, "YAML: the alias *w refers to a node that contains it"),
    (("initial: new", "initial: new\n  warn_at: " + "9" * 5000), 9, 12,
     "YAML: the number 999999999999... has 5000 digits"),
    (("final: true", "final: !!bool yes"), 37, 49, "YAML: 'yes' is not a valid !!bool"),
    (("label: 网格长}", "label: 网格长, label: 组长}"), 16, 35, 'YAML: duplicate key "label" (first on line 16)'),
    (("  name: 最小流程", "  name:\n    " + "- " * 100 + "x"), 5, 5 + 2 * 62,
     "YAML: the document is nested too deeply (more than 64 levels)"),
    (("label: 街道}", "label: " + "{a: " * 100 + "x" + "}" * 100 + "}"), 13, 25 + 4 * 61,
     "YAML: the document is nested too deeply (more than 64 levels)"),
]


@pytest.mark.parametrize(("edit", "line", "column", "message"), ODDITIES,
                         ids=[o[3].split(":")[1].strip()[:40] for o in ODDITIES])
def test_a_yaml_oddity_is_one_positioned_problem(tmp_path: Path, parser: str, edit: tuple[str, str], line: int,
                                                 column: int, message: str) -> None:
    (p,) = _problems_of(_variant(tmp_path, edit))
    assert (p.line, p.column, p.message) == (line, column, message), str(p)
    assert p.hint


def test_a_non_text_key_in_the_organisation(tmp_path: Path, parser: str) -> None:
    path = _variant(tmp_path)
    org = tmp_path / "minimal-org.yaml"
    org.write_text(org.read_text(encoding="utf-8").replace("people:\n", "people:\n  - ? [wang]\n    : x\n"),
                   encoding="utf-8")
    problems = _problems_of(path)
    assert [(Path(p.file).name, p.line, p.column, p.message) for p in problems] == [
        ("minimal-org.yaml", 15, 5, "missing required key 'id' at people.0.id"),
        ("minimal-org.yaml", 15, 5, "missing required key 'name' at people.0.name"),
        ("minimal-org.yaml", 15, 5, "missing required key 'unit' at people.0.unit"),
        ("minimal-org.yaml", 15, 5, "missing required key 'roles' at people.0.roles"),
        ("minimal-org.yaml", 15, 7, "YAML: a list cannot be a mapping key"),
    ]


def test_anchors_aliases_and_merge_keys_are_plain_data(tmp_path: Path, parser: str) -> None:
    path = _variant(tmp_path, ("{id: grid_leader, label: 网格长}", "&leader {id: grid_leader, label: 网格长}"),
                    ("{id: leader, label: 领导, scope: subtree}", "{<<: *leader, id: leader, label: 领导, "
                                                               "scope: subtree}"),
                    ('{code: "0101"', '{code: !!str 0101'))
    wf = load_workflow(path)
    assert wf.roles["leader"].label == "领导" and wf.roles["leader"].scope == "subtree"
    assert wf.data["roles"][3] == {"id": "leader", "label": "领导", "scope": "subtree"}
    assert list(wf.categories) == ["0101"]


def test_the_document_is_refused_at_the_65th_bracket_of_a_million(tmp_path: Path, parser: str) -> None:
    # 1.5 MB of "[": the scanner's work grows with the depth, so it must stop at the limit, not at the end
    path = tmp_path / "brackets.yaml"
    path.write_text("workflow: " + "[" * 1_500_000 + "\n", encoding="utf-8")
    exc = _load_within(path, 20)
    assert isinstance(exc, WorkflowError), repr(exc)
    (p,) = exc.problems
    assert (p.line, p.column) == (1, 11 + 63) and "nested too deeply" in p.message


@pytest.mark.parametrize("name", ["workflows.yaml", "organisation.yaml", "tests/data/workflows/minimal.yaml",
                                  "tests/data/workflows/yaml12_strings.yaml", "tests/data/authoring/lint.yaml"])
def test_the_data_is_what_ruamel_itself_reads(name: str, parser: str) -> None:
    # built from events by our rules, the data of a valid file is exactly ruamel's own safe YAML 1.2 load
    from ruamel.yaml import YAML

    path = DATA.parents[2] / name
    assert yamlio.read_document(path).data == YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "line", "column"), [("deep_block_nesting.yaml", 65, 129),
                                                      ("deep_flow_nesting.yaml", 1, 11 + 63)])
def test_the_hostile_deep_files_are_refused_at_the_65th_level(name: str, line: int, column: int, parser: str) -> None:
    # a block key at the 65th indentation level, the 64th "[" under the root mapping: the file is not read further
    exc = _load_within(DATA.parent / "bad" / "yaml" / name, 20)
    assert isinstance(exc, WorkflowError), repr(exc)
    (p,) = exc.problems
    assert (p.line, p.column) == (line, column) and "nested too deeply (more than 64 levels)" in p.message


def test_the_pure_and_libyaml_parsers_read_the_same() -> None:
    # the corpus and the default workflow: same data, same positions, same problems either way
    if yamlio._c_parser() is None:
        pytest.skip("ruamel.yaml.clib is not installed")
    paths = [DATA.parent.parent.parent / "workflows.yaml", *sorted(DATA.rglob("*.yaml")),
             *sorted((DATA.parent / "bad" / "yaml").glob("*.yaml"))]
    compared = 0
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        assert _read(yamlio.parse_text, text) == _read(yamlio._parse_pure, text), path.name
        compared += 1
    assert compared > 100


def _read(parse: object, text: str) -> object:
    try:
        doc = parse(text, "f")  # type: ignore[operator]
    except WorkflowError as exc:
        return [str(p) for p in exc.problems]
    return repr(doc.data), doc.values, doc.keys, doc.sources, [str(p) for p in doc.problems]


# --- nesting depth is bounded before the parser recurses: milliseconds, not seconds ------------

DEEP_10KB = {  # ten kilobytes of nesting each: (text, line, column of the 65th level)
    "flow list": ("workflow: " + "[" * 10_000 + "\n", 1, 11 + 63),
    "flow mapping": ("workflow: " + "{a: " * 2_500 + "\n", 1, 11 + 4 * 63),
    "block list": ("workflow:\n" + "".join("  " * i + "- \n" for i in range(1, 100)), 65, 129),
    "block mapping": ("workflow:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 140)), 65, 65),
}


@pytest.mark.parametrize("shape", DEEP_10KB)
def test_a_deeply_nested_10_kb_file_is_refused_in_milliseconds(tmp_path: Path, parser: str, shape: str) -> None:
    # a recursive parser would take seconds (and end in RecursionError): the depth is checked as it is read
    text, line, column = DEEP_10KB[shape]
    assert 9_000 < len(text.encode()) < 11_000
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    yamlio.parse_text("warm: [up]\n", "warm.yaml")  # the parser's modules imported before the clock starts
    started = time.process_time()  # CPU time of this process: the same on a busy machine
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    spent = time.process_time() - started
    (p,) = info.value.problems
    assert (p.file, p.line, p.column) == (str(path), line, column)
    assert p.message == "YAML: the document is nested too deeply (more than 64 levels)" and p.hint
    assert spent < 0.1, f"{spent:.3f} s of CPU to refuse the {shape}"


def test_the_cli_refuses_a_deeply_nested_file_with_its_place(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from casecraft.cli.main import app

    path = tmp_path / "deep.yaml"
    path.write_text(DEEP_10KB["flow list"][0], encoding="utf-8")
    for args in (["workflow", "validate", str(path)],
                 ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--workflow", str(path), "init", "--sandbox"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stderr.startswith(f"{path}:1:74: error: YAML: the document is nested too deeply "
                                        "(more than 64 levels)"), result.stderr
        assert "Traceback" not in result.output


# --- each file content is parsed once per process --------------------------------------------


def test_a_file_is_parsed_once_per_content(tmp_path: Path, parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _variant(tmp_path)
    parsed: list[str] = []
    real = yamlio.parse_text
    monkeypatch.setattr(yamlio, "parse_text", lambda text, name: parsed.append(name) or real(text, name))
    yamlio.clear_cache()
    first = load_workflow(path)
    again = load_workflow(path)
    assert [Path(n).name for n in parsed] == ["variant.yaml", "minimal-org.yaml"]  # not again
    assert again.content_hash == first.content_hash and again.org == first.org
    # an edited file is read afresh, never the cached copy of its old content
    path.write_text(path.read_text(encoding="utf-8").replace("name: 最小流程", "name: 改过的流程"), encoding="utf-8")
    edited = load_workflow(path)
    assert edited.name == "改过的流程" and edited.content_hash != first.content_hash
    assert [Path(n).name for n in parsed] == ["variant.yaml", "minimal-org.yaml", "variant.yaml"]
    # and a problem found while parsing is found again, whatever was cached
    path.write_text("workflow: [\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(WorkflowError, match="YAML"):
            load_workflow(path)
