"""The JSON Schema of workflows.yaml: committed == generated, the shipped workflow validates,
and the schema and the loader agree on broken files.

The schema judges structure only (keys, types, enums, patterns). On every file
of the broken corpus it may stay silent (the loader's semantic checks catch
references, durations, reachability) but it must never refuse a file the loader
accepts, and it must refuse every structural defect the loader refuses.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from casecraft.base.errors import WorkflowError
from casecraft.cli.main import app
from casecraft.workflows import load_workflow
from casecraft.workflows.jsonschema import DRAFT_07, schema_text, workflow_schema
from casecraft.workflows.yamlio import plain, read_yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "workflows"
BAD = DATA / "bad"
VALID = [ROOT / "workflows.yaml", DATA / "minimal.yaml", DATA / "yaml12_strings.yaml",
         ROOT / "tests" / "data" / "authoring" / "lint.yaml"]
# broken files whose defect is structural: an unknown or missing key, a wrong type, not a mapping
STRUCTURAL = ["missing_key.yaml", "missing_two_keys.yaml", "many_structural.yaml", "not_mapping.yaml",
              "numeric_code.yaml", "unknown_state_key.yaml", "unknown_top_key.yaml", "wrong_type.yaml"]


@functools.cache
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(workflow_schema())


def schema_errors(path: Path) -> list[str]:
    raw, _ = read_yaml(path)
    return [e.message for e in validator().iter_errors(plain(raw))]


def loader_refuses(path: Path) -> bool:
    try:
        load_workflow(path)
    except WorkflowError:
        return True
    return False


def test_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "workflows.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "regenerate it: casecraft workflow schema -o workflows.schema.json"


def test_schema_is_draft07_with_id_only_at_the_root() -> None:
    schema = workflow_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_07 and schema["$id"].endswith("workflows.schema.json")
    assert "$defs" not in schema and "definitions" in schema

    def walk(node: Any, at_root: bool) -> None:
        if isinstance(node, dict):
            if not at_root:
                assert "$id" not in node and "$schema" not in node
            if "$ref" in node:
                assert node["$ref"].startswith("#/definitions/")
                assert set(node) == {"$ref"}, f"draft-07 ignores siblings of $ref: {node}"
            for v in node.values():
                walk(v, False)
        elif isinstance(node, list):
            for v in node:
                walk(v, False)

    walk(schema, True)


def test_every_field_has_a_chinese_description() -> None:
    schema = workflow_schema()
    missing = []
    for name, definition in [("(root)", schema), *schema["definitions"].items()]:
        for field, prop in definition.get("properties", {}).items():
            text = prop.get("description", "")
            if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
                missing.append(f"{name}.{field}")
    assert not missing, missing


def test_workflow_yaml_points_editors_at_the_schema() -> None:
    first = (ROOT / "workflows.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./workflows.schema.json"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_workflows_validate_against_the_schema(path: Path) -> None:
    assert not loader_refuses(path)
    assert schema_errors(path) == []


@pytest.mark.parametrize("name", STRUCTURAL)
def test_schema_and_loader_both_refuse_structural_defects(name: str) -> None:
    assert loader_refuses(BAD / name)
    assert schema_errors(BAD / name), f"the schema accepts {name}"


def _corpus() -> list[Path]:
    out = []
    for path in sorted(BAD.glob("*.yaml")):
        if path.stem.endswith("-org") or path.name == "org.yaml":
            continue  # organisation files, not workflows
        try:
            read_yaml(path)
        except WorkflowError:
            continue  # not YAML at all: nothing for a schema to judge
        out.append(path)
    return out


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_the_schema_is_never_stricter_than_the_loader(path: Path) -> None:
    # every corpus file is broken: the loader refuses it, whatever the schema says
    assert loader_refuses(path)
    if path.name in STRUCTURAL:
        assert schema_errors(path)


def test_schema_matches_unknown_keys_like_the_loader(tmp_path: Path) -> None:
    text = (DATA / "minimal.yaml").read_text(encoding="utf-8").replace(
        "{id: grid_handling, label: 网格处置中, tier: grid,",
        "{id: grid_handling, lable: 网格处置中, label: x, tier: grid,")
    org = (DATA / "minimal-org.yaml").read_text(encoding="utf-8")
    (tmp_path / "minimal-org.yaml").write_text(org, encoding="utf-8")
    broken = tmp_path / "typo.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load_workflow(broken)
    assert any("unknown key 'lable'" in p.message for p in info.value.problems)
    assert any("'lable' was unexpected" in m for m in schema_errors(broken))


def test_cli_schema_prints_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["workflow", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == workflow_schema()
    assert "层级" in result.stdout  # Chinese is not escaped
    out = tmp_path / "s.json"
    assert runner.invoke(app, ["workflow", "schema", "-o", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == schema_text()
