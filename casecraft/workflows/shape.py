"""A workflow as the engine runs it: plain frozen records, rebuilt from validated data.

The file format is described once, by the pydantic models of :mod:`casecraft.workflows.model`:
they validate a file and give the JSON Schema. Once a file has validated (when it is loaded or
published), everything after reads it through these records instead, built from the same data
without pydantic. An operator command runs on the published version: importing pydantic and
building its model classes would cost it more than its own work (``bench/startup.py``).

The records have the models' fields, in the same order, with the same defaults; a test holds them
to that (tests/test_workflow_shape.py: every field of every model, and every workflow file of the
project built both ways).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

Requirement = Literal["note", "target", "outcome"]
Source = Literal["patrol", "informant", "hotline", "order"]
Outcome = Literal["solved", "unsolved"]
SOURCES: tuple[str, ...] = ("patrol", "informant", "hotline", "order")
OUTCOMES: tuple[str, ...] = ("solved", "unsolved")
PUBLIC_SOURCES: tuple[str, ...] = ("informant", "hotline")

# Frozen, keyword-only (built from mappings, as the models are). Compared by identity (eq=False): a version's
# records are built once and shared by every case on it; the equality and hash methods a dataclass would make
# for each of them would double the module's import, which every operator command pays.
@dataclass(frozen=True, eq=False, kw_only=True)
class Sink:
    """An alert sink: how alerts leave (the names of the variables holding its secrets, never the secrets)."""

    name: str = ""  # never empty once built: a sink without a name is named after its type
    type: Literal["log", "webhook", "apprise"]
    url_env: str | None = None
    token_env: str | None = None
    signing_secret_env: str | None = None
    proxy_env: str | None = None
    allow_hosts: list[str] = field(default_factory=list)
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    total_timeout: float = 10.0
    max_response_bytes: int = 65536
    max_attempts: int = 10
    backoff_initial: float = 30.0
    backoff_max: float = 3600.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 300.0

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.type)


@dataclass(frozen=True, eq=False, kw_only=True)
class Settings:
    """The workflow's settings: identity, time zone, working hours, thresholds, who may do what, sinks."""

    id: str
    name: str
    timezone: str = "Asia/Shanghai"
    working_hours: list[str] = field(default_factory=lambda: ["09:00-12:00", "13:30-17:30"])
    organisation: str | None = None
    initial: str = "new"
    warn_at: float = 0.8
    reescalate_after: str = "1 working day"
    extension_roles: list[str] = field(default_factory=lambda: ["leader"])
    urge_roles: list[str] = field(default_factory=lambda: ["supervisor", "leader", "operator"])
    contact_roles: list[str] = field(default_factory=lambda: ["operator", "leader"])
    sinks: list[Sink] = field(default_factory=list)


@dataclass(frozen=True, eq=False, kw_only=True)
class Tier:
    """A tier of the hierarchy, bottom up."""

    id: str
    label: str


@dataclass(frozen=True, eq=False, kw_only=True)
class Role:
    """A role and the cases it may act on."""

    id: str
    label: str
    scope: Literal["unit", "subtree"] = "unit"


@dataclass(frozen=True, eq=False, kw_only=True)
class Trigger:
    """An act on a case, and the way it moves the case between tiers."""

    id: str
    label: str
    direction: Literal["up", "down", "none"] = "none"


@dataclass(frozen=True, eq=False, kw_only=True)
class State:
    """A case state: its tier, whether it is final, its time limit, whether its clock is paused."""

    id: str
    label: str
    tier: str
    final: bool = False
    limit: str | None = None
    paused: bool = False


@dataclass(frozen=True, eq=False, kw_only=True)
class Condition:
    """The ``when:`` of a transition: the case's source, the outcome given, the tier that resolved it."""

    source: Source | None = None
    outcome: Outcome | None = None
    resolved_tier: str | None = None

    def given(self) -> list[tuple[str, str]]:
        """The conditions set, as (key, value) in field order."""
        return [(f.name, v) for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None]


@dataclass(frozen=True, eq=False, kw_only=True)
class Transition:
    """A transition: the act, where it leaves from and leads to, who may do it and what it needs."""

    trigger: str
    source: str | list[str]
    dest: str
    roles: list[str]
    requires: list[Requirement] = field(default_factory=list)
    when: Condition | None = None
    actor: Literal["unit", "assignee"] = "unit"
    resolves: bool = False
    registers: bool = False
    route: Literal["by_grid", "to_unit"] = "by_grid"
    joint: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


@dataclass(frozen=True, eq=False, kw_only=True)
class Urgency:
    """An urgency, with the time limits it overrides per state."""

    id: str
    label: str
    limits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False, kw_only=True)
class EventClass:
    """A class of events."""

    id: str
    label: str


@dataclass(frozen=True, eq=False, kw_only=True)
class Category:
    """A category of the event catalogue: its class, urgency, limits and responsible units."""

    code: str
    label: str
    event_class: str = field(metadata={"key": "class"})
    urgency: str
    limit: str | None = None
    limits: dict[str, str] = field(default_factory=dict)
    responsible: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False, kw_only=True)
class Indicator:
    """A monthly indicator at one level: its weight and direction."""

    id: str
    label: str
    weight: float
    direction: Literal["higher", "lower"] = "higher"


@dataclass(frozen=True, eq=False, kw_only=True)
class Grade:
    """A grade and its lowest score."""

    grade: str
    min: float


@dataclass(frozen=True, eq=False, kw_only=True)
class Evaluation:
    """The monthly evaluation: the indicators of each level and the grades."""

    street: list[Indicator] = field(default_factory=list)
    community: list[Indicator] = field(default_factory=list)
    grid: list[Indicator] = field(default_factory=list)
    grades: list[Grade] = field(default_factory=list)


@dataclass(frozen=True, eq=False, kw_only=True)
class WorkflowFile:
    """A whole workflow file."""

    workflow: Settings
    tiers: list[Tier]
    roles: list[Role]
    triggers: list[Trigger]
    states: list[State]
    transitions: list[Transition]
    urgencies: list[Urgency]
    classes: list[EventClass]
    categories: list[Category]
    evaluation: Evaluation | None = None


R = TypeVar("R")

# Converter of a non-None value (None: the value as it is).
_Convert = Callable[[Any], Any] | None
# What build does for a record class, worked out once: each field's name, key in the data and converter.
_Plan = tuple[tuple[str, str, _Convert], ...]
_PLANS: dict[type, _Plan] = {}


def build(cls: type[R], data: dict[str, Any]) -> R:
    """The record ``cls`` of data that validated against its model (a file's data, or a stored version's).

    What validation would give, without validating: nested records built, numbers of float fields
    made floats, lists and mappings copied (the records never share them with ``data``).
    """
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    values: dict[str, Any] = {}
    for name, key, convert in plan:
        if key in data:
            value = data[key]
            values[name] = value if value is None or convert is None else convert(value)
    return cls(**values)


def _plan(cls: type) -> _Plan:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, f.metadata.get("key", f.name), _converter(hints[f.name])) for f in dataclasses.fields(cls))


def _converter(tp: Any) -> _Convert:
    """How a validated value of type ``tp`` becomes the record's (for a value that is not None)."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        # in the order of the union: a dict becomes the first record, a list the first list type
        options = [(dataclasses.is_dataclass(arg), typing.get_origin(arg) is list, _converter(arg))
                   for arg in typing.get_args(tp) if arg is not type(None)]

        def union(value: Any) -> Any:
            for is_record, is_list, convert in options:
                if (is_record and isinstance(value, dict)) or (is_list and isinstance(value, list)):
                    return convert(value) if convert is not None else value
            return value

        return union
    if origin is list:
        item = _converter(typing.get_args(tp)[0])
        if item is None:
            return list
        return lambda value: [None if v is None else item(v) for v in value]
    if origin is dict:
        return dict
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return lambda value: build(tp, value)
    if tp is float:
        return _as_float
    return None


def _as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value  # as strict validation
