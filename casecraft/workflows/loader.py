"""Load workflows.yaml (and its organisation file), reporting every problem at once."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from casecraft.base.errors import Problem, WorkflowError
from casecraft.workflows.model import OrganisationFile, Unit, WorkflowFile
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit
from casecraft.workflows.spec import Workflow
from casecraft.workflows.validate import did_you_mean, validate_organisation, validate_workflow
from casecraft.workflows.yamlio import locate, plain, read_yaml

ENV_WORKFLOW = "CASECRAFT_WORKFLOW"


def default_workflow_path() -> Path:
    """``$CASECRAFT_WORKFLOW``, else ./workflows.yaml, else the copy shipped in the package."""
    env = os.environ.get(ENV_WORKFLOW)
    if env:
        return Path(env)
    local = Path("workflows.yaml")
    if local.is_file():
        return local
    return packaged_workflow_path()


def packaged_workflow_path() -> Path:
    shipped = resources.files("casecraft") / "defaults" / "workflows.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    # running from a checkout: the repository root holds the default
    return Path(__file__).resolve().parents[2] / "workflows.yaml"


def _pydantic_problems(exc: ValidationError, raw: Any, file: str, model: type) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        kind = err["type"]
        msg = err["msg"]
        hint = None
        where = ".".join(str(p) for p in loc)
        if kind == "extra_forbidden":
            key = loc[-1]
            line, col = locate(raw, loc, key=True)
            parent_fields = _fields_at(model, loc[:-1])
            hint = did_you_mean(str(key), parent_fields) or (
                f"allowed keys: {', '.join(parent_fields)}" if parent_fields else None)
            problems.append(Problem(file, line, col, f"unknown key '{key}' at {where}", hint=hint, path=where))
            continue
        if kind == "missing":
            line, col = locate(raw, loc[:-1])
            problems.append(Problem(file, line, col, f"missing required key '{loc[-1]}' at {where}", path=where))
            continue
        line, col = locate(raw, loc)
        got = err.get("input")
        if kind == "string_type" and isinstance(got, int | float) and not isinstance(got, bool):
            node = _node_at(raw, loc)
            width = getattr(node, "_width", None)
            shown_num = f"{got:0{width}d}" if isinstance(got, int) and isinstance(width, int) else str(got)
            hint = f'quote it: "{shown_num}" (unquoted digits are read as a number)'
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        problems.append(Problem(file, line, col, f"{where}: {msg} (got {shown})", hint=hint, path=where))
    # pydantic reports one error per union branch; keep one per position
    unique: dict[tuple[int, int, str, str], Problem] = {}
    for p in problems:
        named = p.message if p.message.startswith(("missing required key", "unknown key")) else ""
        unique.setdefault((p.line, p.column, p.path.split(".")[0], named), p)
    return sorted(unique.values(), key=lambda p: (p.line, p.column))


def _node_at(raw: Any, loc: list[Any]) -> Any:
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
    return node


def _fields_at(model: type, loc: list[Any]) -> list[str]:
    """Field names (by alias) of the model reached by following ``loc``."""
    from typing import get_args, get_origin

    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None)
        if info is None:
            return []
        ann = info.annotation
        while get_origin(ann) is not None:
            args = [a for a in get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
            if args:
                ann = args[0]
                break
            inner = [a for a in get_args(ann) if a is not type(None)]
            ann = inner[0] if inner else ann
            if get_origin(ann) is None:
                break
        current = ann
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def load_workflow(path: str | os.PathLike[str] | None = None) -> Workflow:
    """Load and validate a workflow file and the organisation file it names.

    Args:
        path: the workflow file; default: see :func:`default_workflow_path`.

    Raises:
        WorkflowError: with every problem found, each as FILE:LINE:COL.
    """
    wf_path = Path(path) if path is not None else default_workflow_path()
    file = str(wf_path)
    raw, _text = read_yaml(wf_path)
    if not isinstance(raw, dict):
        lc = getattr(raw, "lc", None)
        line, col = (lc.line + 1, lc.col + 1) if lc is not None and lc.line is not None else (1, 1)
        raise WorkflowError([Problem(file, line, col, "the workflow file must be a mapping with keys "
                                     "workflow, tiers, roles, triggers, states, transitions, ...")])
    data = plain(raw)
    try:
        wf_file = WorkflowFile.model_validate(data)
    except ValidationError as exc:
        raise WorkflowError(_pydantic_problems(exc, raw, file, WorkflowFile)) from None

    org_file = org_raw = None
    org_path = None
    problems: list[Problem] = []
    if wf_file.workflow.organisation:
        org_path = (wf_path.parent / wf_file.workflow.organisation)
        org_name = str(org_path)
        if not org_path.is_file():
            line, col = locate(raw, ("workflow", "organisation"))
            problems.append(Problem(file, line, col, f"organisation file '{wf_file.workflow.organisation}' "
                                    f"not found (looked at {org_path})"))
        else:
            try:
                org_raw, _ = read_yaml(org_path)
                if not isinstance(org_raw, dict):
                    raise WorkflowError([Problem(org_name, 1, 1, "the organisation file must be a mapping "
                                                 "with keys units and people")])
                org_file = OrganisationFile.model_validate(plain(org_raw))
            except WorkflowError as exc:
                problems.extend(exc.problems)
            except ValidationError as exc:
                problems.extend(_pydantic_problems(exc, org_raw, org_name, OrganisationFile))
    problems.extend(validate_workflow(wf_file, raw, file, org_file))
    if org_file is not None and org_path is not None:
        problems.extend(validate_organisation(org_file, org_raw, str(org_path), wf_file))
    if problems:
        raise WorkflowError(problems)
    org = organisation_from_file(org_file) if org_file is not None else None
    return Workflow(file=wf_file, data=data, path=wf_path, org=org, org_path=org_path)


def organisation_from_file(org_file: OrganisationFile) -> Organisation:
    units: list[OrgUnit] = []

    def walk(items: list[Unit], parent: OrgUnit | None) -> None:
        for u in items:
            tier = u.tier or (parent.tier if parent else None)
            ou = OrgUnit(code=u.code, name=u.name, tier=tier, kind=u.kind, parent=parent.code if parent else None,
                         addresses=tuple(u.addresses))
            units.append(ou)
            walk(u.children, ou)

    walk(org_file.units, None)
    people = [OrgPerson(id=p.id, name=p.name, unit=p.unit, roles=tuple(p.roles), note=p.note)
              for p in org_file.people]
    return Organisation.build(units, people)
