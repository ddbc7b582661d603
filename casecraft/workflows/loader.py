"""Load workflows.yaml (and its organisation file), reporting every problem at once.

The stages: read the YAML (:mod:`.yamlio`: plain data with positions; a
duplicate key or bad tag is a problem, not the end), check the structure once
with the pydantic models (:mod:`.model`; every error, each at its node), then
check the meaning (:mod:`.validate`) on whatever is well-typed, for both files.
A valid file is validated by pydantic exactly once and its data is never copied.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from casecraft.base.errors import N_, Problem, WorkflowError, render
from casecraft.workflows.model import OrganisationFile, Unit, WorkflowFile
from casecraft.workflows.org import Organisation, OrgPerson, OrgUnit
from casecraft.workflows.shape import WorkflowFile as Spec
from casecraft.workflows.shape import build
from casecraft.workflows.spec import Workflow
from casecraft.workflows.validate import Dirty, check_organisation, check_workflow, did_you_mean
from casecraft.workflows.yamlio import Loc, YamlDocument, read_document

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


def structure_problems(exc: ValidationError, doc: YamlDocument, model: type) -> list[tuple[Loc, Problem]]:
    """The pydantic errors of ``model`` as positioned problems, each with the path it is about."""
    found: list[tuple[Loc, Problem]] = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        where = ".".join(str(p) for p in loc)
        if kind == "extra_forbidden":
            key = loc[-1]
            parent_fields = _fields_at(model, list(loc[:-1]))
            hint = did_you_mean(str(key), parent_fields) or (
                render("allowed keys: {keys}", {"keys": ", ".join(parent_fields)}) if parent_fields else None)
            found.append((loc, doc.problem(loc, render("unknown key '{key}' at {where}", {"key": key, "where": where}),
                                           hint, key=True)))
            continue
        if kind == "missing":
            line, col = doc.where(loc[:-1])
            found.append((loc, Problem(doc.file, line, col,
                                       render("missing required key '{key}' at {where}",
                                              {"key": loc[-1], "where": where}), path=where)))
            continue
        got = err.get("input")
        hint = None
        if kind == "string_type" and isinstance(got, int | float) and not isinstance(got, bool):
            written = doc.source(loc) or str(got)
            hint = render('quote it: "{written}" (unquoted digits are read as a number)', {"written": written})
        shown = (render("a mapping", {}) if isinstance(got, dict) else render("a list", {}) if isinstance(got, list)
                 else repr(got))
        found.append((loc, doc.problem(loc, _type_problem(err, where, shown), hint)))
    # pydantic reports one error per union branch; keep one per position
    unique: dict[tuple[int, int, str, str], tuple[Loc, Problem]] = {}
    for loc, p in found:
        named = p.message if p.message.startswith(("missing required key", "unknown key")) else ""
        unique.setdefault((p.line, p.column, p.path.split(".")[0], named), (loc, p))
    return sorted(unique.values(), key=lambda lp: (lp[1].line, lp[1].column))


# pydantic's common error types as our own templates, worded as pydantic words them in English (so the
# English stays as it was) and translated like every other message; any other type keeps pydantic's text
_TYPE_TEMPLATES: dict[str, str] = {
    "string_type": N_("{where}: Input should be a valid string (got {shown})"),
    "int_type": N_("{where}: Input should be a valid integer (got {shown})"),
    "int_parsing": N_("{where}: Input should be a valid integer, unable to parse string as an integer (got {shown})"),
    "int_from_float": N_("{where}: Input should be a valid integer, got a number with a fractional part "
                         "(got {shown})"),
    "float_type": N_("{where}: Input should be a valid number (got {shown})"),
    "float_parsing": N_("{where}: Input should be a valid number, unable to parse string as a number (got {shown})"),
    "bool_type": N_("{where}: Input should be a valid boolean (got {shown})"),
    "bool_parsing": N_("{where}: Input should be a valid boolean, unable to interpret input (got {shown})"),
    "list_type": N_("{where}: Input should be a valid list (got {shown})"),
    "dict_type": N_("{where}: Input should be a valid dictionary (got {shown})"),
    "model_type": N_("{where}: Input should be a valid dictionary or instance of {class_name} (got {shown})"),
    "literal_error": N_("{where}: Input should be {choices} or {last} (got {shown})"),
    "enum": N_("{where}: Input should be {choices} or {last} (got {shown})"),
    "greater_than": N_("{where}: Input should be greater than {gt} (got {shown})"),
    "greater_than_equal": N_("{where}: Input should be greater than or equal to {ge} (got {shown})"),
    "less_than": N_("{where}: Input should be less than {lt} (got {shown})"),
    "less_than_equal": N_("{where}: Input should be less than or equal to {le} (got {shown})"),
    "string_too_short": N_("{where}: String should have at least {min_length} characters (got {shown})"),
    "string_too_long": N_("{where}: String should have at most {max_length} characters (got {shown})"),
    "string_pattern_mismatch": N_("{where}: String should match pattern '{pattern}' (got {shown})"),
    "value_error": N_("{where}: Value error, {why} (got {shown})"),
}
_ONE_CHOICE = N_("{where}: Input should be {expected} (got {shown})")


def _type_problem(err: Any, where: str, shown: str) -> str:
    """A pydantic error as one of our templates (its English exactly pydantic's), else pydantic's own text.

    A model validator's message (a :func:`render` result in the ``ValueError``) stays a translatable detail.
    """
    ctx = dict(err.get("ctx") or {})
    english = render("{where}: {why} (got {shown})", {"where": where, "why": err["msg"], "shown": shown})
    template = _TYPE_TEMPLATES.get(err["type"])
    if template is None:
        return english
    details: dict[str, Any] = {**ctx, "where": where, "shown": shown}
    if "expected" in ctx:
        choices, sep, last = str(ctx["expected"]).rpartition(" or ")
        if sep:
            details.update(choices=choices, last=last)
        else:
            template = _ONE_CHOICE
    error = ctx.get("error")
    if isinstance(error, Exception):
        details["why"] = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    ours = render(template, details)
    return ours if ours == english else english  # the same words, or pydantic's own (a version that words it anew)


def _pydantic_problems(exc: ValidationError, raw: Any, file: str, model: type) -> list[Problem]:
    """Compatibility: :func:`structure_problems` for a root from :func:`~.yamlio.read_yaml`."""
    doc = getattr(raw, "doc", None)
    return [p for _, p in structure_problems(exc, doc if isinstance(doc, YamlDocument) else YamlDocument(file),
                                             model)]


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


@dataclass(frozen=True)
class Loaded:
    """A loaded workflow with the parsed documents it came from (for positions, e.g. lint warnings)."""

    workflow: Workflow
    doc: YamlDocument
    org_doc: YamlDocument | None = None


def load_workflow(path: str | os.PathLike[str] | None = None) -> Workflow:
    """Load and validate a workflow file and the organisation file it names.

    Args:
        path: the workflow file; default: see :func:`default_workflow_path`.

    Raises:
        WorkflowError: with every problem found, each as FILE:LINE:COL.
    """
    return load(path).workflow


def load(path: str | os.PathLike[str] | None = None) -> Loaded:
    """Like :func:`load_workflow`, also returning the parsed documents.

    Every stage runs on whatever the earlier ones could read: the YAML problems
    (a duplicate key, a bad tag), the structure (pydantic) problems and the
    semantic ones (references, reachability, tier steps, durations) of both
    files are reported together; a problem that only follows from one already
    reported at the same place is left out.

    Raises:
        WorkflowError: with every problem found, each as FILE:LINE:COL.
    """
    wf_path = Path(path) if path is not None else default_workflow_path()
    doc = read_document(wf_path)
    raw = doc.data
    if not isinstance(raw, dict):
        line, col = doc.where(())
        raise WorkflowError([*doc.problems, Problem(
            doc.file, line, col, render("the workflow file must be a mapping with keys "
                                        "workflow, tiers, roles, triggers, states, transitions, ...", {}))])
    found: list[Problem] = list(doc.problems)
    wf_file, dirty = _structure(WorkflowFile, raw, doc, found)

    org_file = org_doc = org_path = None
    settings = raw.get("workflow")
    org_ref = settings.get("organisation") if isinstance(settings, dict) else None
    if isinstance(org_ref, str) and org_ref:
        org_path = wf_path.parent / org_ref
        org_file, org_doc = _organisation(org_path, org_ref, doc, found)
    org_raw = org_doc.data if org_doc is not None and isinstance(org_doc.data, dict) else None
    found.extend(check_workflow(raw, doc, dirty, org_raw))
    if org_doc is not None and org_raw is not None:
        found.extend(check_organisation(org_raw, org_doc, raw))
    problems = _without_followers(found, [doc, org_doc])
    if problems or wf_file is None or (org_path is not None and org_file is None):
        raise WorkflowError(problems or [Problem(doc.file, 1, 1, render("the workflow could not be read", {}))])
    org = organisation_from_file(org_file) if org_file is not None else None
    workflow = Workflow(file=build(Spec, raw), data=raw, path=wf_path, org=org, org_path=org_path)
    return Loaded(workflow, doc, org_doc)


def load_organisation(path: str | os.PathLike[str], workflow: Workflow) -> Organisation:
    """Load an organisation file on its own (``org reload``), checked against a loaded workflow.

    Like :func:`load`: the YAML, structure and meaning problems come out together.

    Raises:
        WorkflowError: with every problem found, each as FILE:LINE:COL.
    """
    org_path = Path(path)
    found: list[Problem] = []
    org_file, org_doc = _organisation(org_path, str(path), None, found)
    if org_doc is not None and isinstance(org_doc.data, dict):
        found.extend(check_organisation(org_doc.data, org_doc, workflow.data))
    problems = _without_followers(found, [org_doc])
    if problems or org_file is None:
        raise WorkflowError(problems or [Problem(str(org_path), 1, 1,
                                                 render("the organisation could not be read", {}))])
    return organisation_from_file(org_file)


M = TypeVar("M", bound=BaseModel)


def _structure(model: type[M], raw: dict[str, Any], doc: YamlDocument, found: list[Problem]) -> tuple[M | None, Dirty]:
    """Validate ``raw`` with ``model`` once; on failure, collect its problems and where they are."""
    try:
        return model.model_validate(raw), Dirty()
    except ValidationError as exc:
        pairs = structure_problems(exc, doc, model)
    found.extend(p for _, p in pairs)
    return None, Dirty(loc for loc, _ in pairs)


def _organisation(org_path: Path, org_ref: str, doc: YamlDocument | None,
                  found: list[Problem]) -> tuple[OrganisationFile | None, YamlDocument | None]:
    """Read and structure-check an organisation file; ``doc`` is the workflow naming it, if one does."""
    if not org_path.is_file():
        message = render("organisation file '{file}' not found (looked at {path})", {"file": org_ref, "path": org_path})
        found.append(doc.problem(("workflow", "organisation"), message) if doc is not None
                     else Problem(str(org_path), 1, 1, message, hint=render("give the path of a YAML file", {})))
        return None, None
    try:
        org_doc = read_document(org_path)
    except WorkflowError as exc:
        found.extend(exc.problems)
        return None, None
    found.extend(org_doc.problems)
    if not isinstance(org_doc.data, dict):
        line, col = org_doc.where(())
        found.append(Problem(org_doc.file, line, col,
                             render("the organisation file must be a mapping with keys units and people", {})))
        return None, org_doc
    org_file, _ = _structure(OrganisationFile, org_doc.data, org_doc, found)
    return org_file, org_doc


def _without_followers(problems: list[Problem], docs: list[YamlDocument | None]) -> list[Problem]:
    """Leave out problems at or under a value the YAML reader refused (a bad tag, a recursive
    alias): "should be a valid string (got <rejected>)" would only repeat its problem.
    Then order them by file (the workflow first) and position."""
    refused = {(d.file, path) for d in docs if d is not None for path in d.rejected}
    yaml_problems = {id(p) for d in docs if d is not None for p in d.problems}

    def follows(p: Problem) -> bool:
        if id(p) in yaml_problems or not refused:
            return False
        return any(p.file == file and (p.path == path or p.path.startswith(path + ".")) for file, path in refused)

    rank = {d.file: i for i, d in enumerate(docs) if d is not None}
    kept = [p for p in problems if not follows(p)]
    return sorted(kept, key=lambda p: (rank.get(p.file, len(rank)), p.line, p.column))


def organisation_from_file(org_file: OrganisationFile) -> Organisation:
    """The run-time organisation (units with their resolved tiers, people) of a valid file."""
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
