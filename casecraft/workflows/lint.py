"""Warnings an admin wants about a valid workflow (``casecraft workflow validate --strict``).

A warning is not an error: the workflow loads and runs. Each one is a
:class:`~casecraft.errors.Problem` with ``severity="warning"``, the file, line and
column of the node it is about, and a hint saying what to do:

* ``no-warn-threshold``: timed states with no yellow warning worth the name: the
  workflow does not set ``warn_at`` (the 0.8 default applies silently), or the
  warning of a limit comes less than :data:`MIN_LEAD_MINUTES` before it is due;
* ``no-street-department``: a category without a responsible department at the
  street, so a street dispatch needs ``--to`` by hand;
* ``role-without-people``: a role no person in the organisation holds;
* ``no-way-back``: a tier from whose states no path leads back to the grid tier,
  so a case handled there can never be checked and closed by the grid.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from casecraft.base.duration import Duration
from casecraft.base.errors import Problem, render
from casecraft.workflows.loader import load
from casecraft.workflows.spec import Workflow
from casecraft.workflows.yamlio import YamlDocument, locate

MIN_LEAD_MINUTES = 5.0
STREET = "street"


def lint(path: str | Path | None = None) -> tuple[Workflow, list[Problem]]:
    """Load a workflow (errors raise :class:`~casecraft.errors.WorkflowError`) and lint it.

    Returns:
        the workflow and its warnings, sorted by file and line.
    """
    loaded = load(path)  # parsed once: the same document gives the warnings their positions
    return loaded.workflow, lint_workflow(loaded.workflow, loaded.doc)


def lint_workflow(wf: Workflow, raw: Any = None) -> list[Problem]:
    """The warnings of a loaded workflow; ``raw`` (its :class:`~.yamlio.YamlDocument`) gives positions."""
    file = str(wf.path) if wf.path else "<workflow>"
    out: list[Problem] = []

    def warn(loc: tuple[str | int, ...], message: str, hint: str, *, key: bool = False) -> None:
        """A warning; ``message`` ends with its code in brackets (``[no-warn-threshold]``)."""
        line, col = raw.where(loc, key=key) if isinstance(raw, YamlDocument) else locate(raw, loc, key=key)
        out.append(Problem(file, line, col, message, hint=hint,
                           path=".".join(str(p) for p in loc), severity="warning"))

    _thresholds(wf, warn)
    _street_departments(wf, warn)
    _roles_held(wf, warn)
    _ways_back(wf, warn)
    return sorted(out, key=lambda p: (p.line, p.column))


def _minutes(d: Duration, hours_per_day: float) -> float:
    per = {"minute": 1.0, "hour": 60.0, "day": (hours_per_day if d.working else 24.0) * 60}
    return d.amount * per[d.unit]


def _hours_per_day(wf: Workflow) -> float:
    from casecraft.timing.calendar import parse_periods

    try:
        periods = parse_periods(wf.file.workflow.working_hours)
    except ValueError:
        return 8.0
    total = 0.0
    for p in periods:
        start, end = p[0], p[1]
        total += (end.hour * 60 + end.minute - start.hour * 60 - start.minute) / 60
    return total or 8.0


def _thresholds(wf: Workflow, warn: Any) -> None:
    settings = wf.file.workflow
    timed = [s for s in wf.file.states if s.limit and not s.final and not s.paused]
    if timed and "warn_at" not in wf.data.get("workflow", {}):
        warn(("workflow",), render("{count} timed state(s) have no warning threshold: workflow.warn_at is not "
                                   "set, so the yellow warning silently comes at the default {share} of each "
                                   "limit [{code}]",
                                   {"count": len(timed), "share": f"{settings.warn_at:.0%}",
                                    "code": "no-warn-threshold"}),
             render("add e.g. `warn_at: 0.8` under workflow:", {}), key=True)
    hpd = _hours_per_day(wf)
    lead = 1 - settings.warn_at

    def check(loc: tuple[str | int, ...], state: str, text: str, urgency: str = "", category: str = "") -> None:
        try:
            d = Duration.parse(text)
        except ValueError:
            return
        minutes = _minutes(d, hpd) * lead
        if minutes < MIN_LEAD_MINUTES:
            found = {"state": state, "limit": text, "urgency": urgency, "category": category,
                     "minutes": round(minutes), "code": "no-warn-threshold"}
            warn(loc, render("the limit of '{state}' ({limit}, urgency {urgency}) warns only {minutes} minute(s) "
                             "before it is due, too late to act on [{code}]", found) if urgency else
                 render("the limit of '{state}' ({limit}, category {category}) warns only {minutes} minute(s) "
                        "before it is due, too late to act on [{code}]", found) if category else
                 render("the limit of '{state}' ({limit}) warns only {minutes} minute(s) before it is due, "
                        "too late to act on [{code}]", found),
                 render("lower workflow.warn_at (now {share}) or lengthen the limit", {"share": settings.warn_at}))

    for i, s in enumerate(wf.file.states):
        if s in timed:
            check(("states", i, "limit"), s.id, s.limit or "")
    for i, u in enumerate(wf.file.urgencies):
        for st, text in u.limits.items():
            check(("urgencies", i, "limits", st), st, text, urgency=u.id)
    for i, c in enumerate(wf.file.categories):
        for st, text in c.limits.items():
            check(("categories", i, "limits", st), st, text, category=c.code)


def _street_departments(wf: Workflow, warn: Any) -> None:
    if STREET not in wf.tiers:
        return
    for i, c in enumerate(wf.file.categories):
        if STREET not in c.responsible:
            warn(("categories", i, "code"),
                 render("category {category} ({label}) has no responsible department at the street: a street "
                        "dispatch of it needs --to by hand [{code}]",
                        {"category": c.code, "label": c.label, "code": "no-street-department"}),
                 render("add e.g. `{example}` (see organisation.yaml)",
                        {"example": 'responsible: {street: "<department code>"}'}))


def _roles_held(wf: Workflow, warn: Any) -> None:
    if wf.org is None:
        return
    held = {r for p in wf.org.people.values() for r in p.roles}
    org_name = wf.org_path.name if wf.org_path else "the organisation file"
    for i, r in enumerate(wf.file.roles):
        if r.id not in held:
            warn(("roles", i, "id"),
                 render("no person holds the role '{role}' ({label}): transitions that need only it cannot be "
                        "fired [{code}]", {"role": r.id, "label": r.label, "code": "role-without-people"}),
                 render("give the role to someone in {file} or remove it", {"file": org_name}))


def _ways_back(wf: Workflow, warn: Any) -> None:
    bottom = wf.tiers[0]
    reverse: dict[str, set[str]] = defaultdict(set)
    for tr in wf.file.transitions:
        for src in tr.sources:
            reverse[tr.dest].add(src)
    # every state from which some state of the bottom tier can be reached
    seen = {s.id for s in wf.file.states if s.tier == bottom}
    queue = deque(seen)
    while queue:
        for prev in reverse.get(queue.popleft(), ()):
            if prev not in seen:
                seen.add(prev)
                queue.append(prev)
    for i, tier in enumerate(wf.file.tiers):
        members = [s.id for s in wf.file.states if s.tier == tier.id and not s.final]
        if tier.id == bottom or not members:
            continue
        if not any(m in seen for m in members):
            warn(("tiers", i, "id"),
                 render("no path leads from the {label} ({tier}) tier back to the {bottom_label} ({bottom}) tier: "
                        "a case handled there is never checked on site and closed by the grid [{code}]",
                        {"label": tier.label, "tier": tier.id, "bottom_label": wf.tier_labels[bottom],
                         "bottom": bottom, "code": "no-way-back"}),
                 render("add a relay (逐级反馈) transition down from one of its states: {states}",
                        {"states": ", ".join(members)}))


__all__ = ["MIN_LEAD_MINUTES", "lint", "lint_workflow"]
