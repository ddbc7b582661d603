"""A loaded, validated workflow: frozen, hashed, indexed.

The spec is immutable and versioned by the hash of its content; cases record
the version they run on. The state machine is compiled from it once
(:mod:`casecraft.workflows.machine`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from casecraft.base.duration import Duration
from casecraft.workflows.org import Organisation
from casecraft.workflows.shape import Category, Role, State, Transition, Trigger, WorkflowFile, build


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def spec_hash(data: dict[str, Any]) -> str:
    """The content hash of a workflow's data (what a published version is stored and verified under)."""
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class Workflow:
    """A validated workflow definition.

    Attributes:
        file: the workflow file as records (:mod:`casecraft.workflows.shape`), built from ``data`` once it validated.
        data: the plain data it was parsed from (stored with each version).
        path: where it was loaded from (None when rebuilt from the database).
        org: the organisation from organisation.yaml, if the workflow names one.
    """

    file: WorkflowFile
    data: dict[str, Any]
    path: Path | None = None
    org: Organisation | None = None
    org_path: Path | None = None
    # pure functions' results for this version, kept by their callers (the step limit of a state for a case kind);
    # not an argument: a copy made by dataclasses.replace starts with its own
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, init=False)

    @cached_property
    def spec_json(self) -> str:
        return _canonical(self.data)

    @cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.spec_json.encode()).hexdigest()

    @property
    def id(self) -> str:
        return self.file.workflow.id

    @property
    def name(self) -> str:
        return self.file.workflow.name

    @property
    def timezone(self) -> str:
        return self.file.workflow.timezone

    @property
    def initial(self) -> str:
        return self.file.workflow.initial

    @cached_property
    def tiers(self) -> list[str]:
        return [t.id for t in self.file.tiers]

    @cached_property
    def tier_labels(self) -> dict[str, str]:
        return {t.id: t.label for t in self.file.tiers}

    @cached_property
    def states(self) -> dict[str, State]:
        return {s.id: s for s in self.file.states}

    @cached_property
    def roles(self) -> dict[str, Role]:
        return {r.id: r for r in self.file.roles}

    @cached_property
    def triggers(self) -> dict[str, Trigger]:
        return {t.id: t for t in self.file.triggers}

    @cached_property
    def categories(self) -> dict[str, Category]:
        return {c.code: c for c in self.file.categories}

    @cached_property
    def _by_source(self) -> dict[str, list[Transition]]:
        out: dict[str, list[Transition]] = {}
        for tr in self.file.transitions:
            for src in tr.sources:
                out.setdefault(src, []).append(tr)
        return out

    def transitions_from(self, state: str, trigger: str | None = None) -> list[Transition]:
        """Transitions leaving ``state`` (optionally only those of ``trigger``), in file order."""
        items = self._by_source.get(state, [])
        return [t for t in items if trigger is None or t.trigger == trigger]

    def triggers_from(self, state: str) -> list[str]:
        out: list[str] = []
        for t in self.transitions_from(state):
            if t.trigger not in out:
                out.append(t.trigger)
        return out

    def tier_step(self, tier: str, step: int) -> str | None:
        i = self.tiers.index(tier) + step
        return self.tiers[i] if 0 <= i < len(self.tiers) else None

    def state_label(self, state: str | None) -> str:
        if state is None:
            return ""
        s = self.states.get(state)
        return s.label if s else state

    def trigger_label(self, trigger: str) -> str:
        t = self.triggers.get(trigger)
        return t.label if t else trigger

    def state_limit(self, state: str) -> Duration | None:
        s = self.states.get(state)
        return Duration.parse(s.limit) if s is not None and s.limit else None

    def is_final(self, state: str) -> bool:
        s = self.states.get(state)
        return bool(s and s.final)

    @classmethod
    def from_data(cls, data: dict[str, Any], path: Path | None = None) -> Workflow:
        """Rebuild a stored version (already validated when it was first loaded), validating it again."""
        from casecraft.workflows.model import WorkflowFile as Model  # validation only: pydantic is loaded here

        Model.model_validate(data)
        return cls(file=build(WorkflowFile, data), data=data, path=path)

    @classmethod
    def from_published(cls, data: dict[str, Any], content_hash: str) -> Workflow:
        """Rebuild a published version without validating it again, once its data matches its hash.

        Its data was validated when it was published; the hash (of the same canonical JSON the
        version was stored under) proves it is that data. Parsing no YAML and building no
        validator, and not even importing pydantic, is what lets an operator command start at once.

        Raises:
            ValueError: the data does not match ``content_hash``.
        """
        if spec_hash(data) != content_hash:
            raise ValueError("the stored workflow does not match its hash")
        return cls(file=build(WorkflowFile, data), data=data)
