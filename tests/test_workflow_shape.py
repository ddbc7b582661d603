"""The records a workflow runs as (casecraft.workflows.shape) hold what validation of the file gives.

The pydantic models of casecraft.workflows.model describe the file format; the engine reads a validated
file as plain records built without pydantic. These tests keep the two descriptions one: every model has
its record with the same fields in the same order, the same defaults and keys; and every workflow file of
the project, built as records, gives field for field (types included) what the models give.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from casecraft.base.errors import WorkflowError
from casecraft.workflows import model, shape
from casecraft.workflows.loader import load_workflow
from casecraft.workflows.spec import Workflow, spec_hash

ROOT = Path(__file__).resolve().parents[1]

PAIRS = [(model.WorkflowFile, shape.WorkflowFile), (model.Settings, shape.Settings), (model.Sink, shape.Sink),
         (model.Tier, shape.Tier), (model.Role, shape.Role), (model.Trigger, shape.Trigger),
         (model.State, shape.State), (model.Condition, shape.Condition), (model.Transition, shape.Transition),
         (model.Urgency, shape.Urgency), (model.EventClass, shape.EventClass), (model.Category, shape.Category),
         (model.Indicator, shape.Indicator), (model.Grade, shape.Grade), (model.Evaluation, shape.Evaluation)]


def test_every_model_of_the_workflow_file_has_its_record() -> None:
    def models_under(cls: type[BaseModel]) -> set[str]:
        found = {cls.__name__}
        for info in cls.model_fields.values():
            for tp in _types_in(info.annotation):
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    found |= models_under(tp)
        return found

    assert models_under(model.WorkflowFile) == {m.__name__ for m, _ in PAIRS}


def _types_in(tp: Any) -> list[Any]:
    args = getattr(tp, "__args__", None)
    return [tp, *(t for a in args for t in _types_in(a))] if args else [tp]


@pytest.mark.parametrize(("m", "r"), PAIRS, ids=lambda c: getattr(c, "__module__", "").rsplit(".", 1)[-1])
def test_a_record_has_its_models_fields_keys_and_defaults(m: type[BaseModel], r: type) -> None:
    fields = dataclasses.fields(r)
    assert [f.name for f in fields] == list(m.model_fields)
    for f in fields:
        info = m.model_fields[f.name]
        assert f.metadata.get("key", f.name) == (info.alias or f.name), f.name
        if info.is_required():
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name
            continue
        mine = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        theirs = info.get_default(call_default_factory=True)
        assert theirs is not PydanticUndefined
        assert (type(mine), mine) == (type(theirs), theirs), f.name


def _plain(obj: Any) -> Any:
    """A model or a record as nested (type name, fields) pairs: equal only when every field and type is."""
    if isinstance(obj, BaseModel):
        return (type(obj).__name__, {k: _plain(getattr(obj, k)) for k in type(obj).model_fields})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__, {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
    if isinstance(obj, list):
        return ["list", [_plain(v) for v in obj]]
    if isinstance(obj, dict):
        return ["dict", {k: _plain(v) for k, v in obj.items()}]
    return (type(obj).__name__, obj)


def _workflow_files() -> list[Path]:
    return [ROOT / "workflows.yaml", *sorted((ROOT / "tests" / "data" / "workflows").glob("*.yaml")),
            *sorted((ROOT / "tests" / "data" / "authoring").glob("*.yaml"))]


@pytest.mark.parametrize("path", _workflow_files(), ids=lambda p: p.name)
def test_every_workflow_file_built_as_records_is_what_validation_gives(path: Path) -> None:
    try:
        wf = load_workflow(path)
    except WorkflowError:  # an organisation file: not a workflow that could be published
        pytest.skip("not a valid workflow file")
    stored = json.loads(wf.spec_json)  # as a published version is read back
    validated = model.WorkflowFile.model_validate(stored)
    assert _plain(wf.file) == _plain(validated)
    rebuilt = Workflow.from_published(stored, wf.content_hash)
    assert _plain(rebuilt.file) == _plain(validated)


def test_sinks_evaluation_and_numbers_come_out_as_validation_gives() -> None:
    data = json.loads(load_workflow(ROOT / "workflows.yaml").spec_json)
    data["workflow"]["sinks"] = [{"type": "log"}, {"type": "webhook", "name": "city", "url_env": "CITY_URL",
                                                   "allow_hosts": ["alerts.example.gov.cn"], "read_timeout": 7}]
    data["workflow"]["warn_at"] = 0.75
    assert data["evaluation"]["street"][0]["weight"] == int(data["evaluation"]["street"][0]["weight"])
    built = Workflow.from_published(data, spec_hash(data)).file
    assert _plain(built) == _plain(model.WorkflowFile.model_validate(data))
    log, city = built.workflow.sinks
    assert (log.name, city.name, city.read_timeout, type(city.read_timeout)) == ("log", "city", 7.0, float)
    assert type(built.evaluation.street[0].weight) is float  # type: ignore[union-attr]


def test_records_share_no_list_with_the_stored_data_and_cannot_be_changed() -> None:
    data = json.loads(load_workflow(ROOT / "workflows.yaml").spec_json)
    built = Workflow.from_published(data, spec_hash(data))
    roles = built.file.transitions[0].roles
    data["transitions"][0]["roles"].append("intruder")
    assert "intruder" not in roles
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.file.workflow.warn_at = 0.1  # type: ignore[misc]


def test_a_condition_lists_what_it_sets_in_field_order() -> None:
    cond = shape.build(shape.Condition, {"resolved_tier": "street", "source": "hotline"})
    assert cond.given() == [("source", "hotline"), ("resolved_tier", "street")]
    assert shape.Condition().given() == []
