"""THE write path: every change to a case is one hash-chained timeline entry, written here only.

A step (report, fire, joint feedback, every side step, migration, hotline
import, calendar correction) is described as a :class:`Step`: what the case
becomes (its changed fields), what happens to its deadline rows, who acted
and why. :func:`append` writes it in the caller's transaction: the deadline
rows first, then the entry (its hash covers the case fields and deadline
facts it set, the actor's name and role as they were, and the previous
entry's hash), then the case row under its optimistic version. A conflict
rolls the whole transaction back.

Deadline rows are identified within a case by ``kind:seq`` (the step that
opened them), so an entry's facts can be computed before any row exists (bulk
intake computes whole batches in Python).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from json.encoder import encode_basestring
from operator import attrgetter, itemgetter
from typing import Any

from orjson import OPT_PASSTHROUGH_DATETIME, OPT_SORT_KEYS
from orjson import dumps as _orjson_dumps

from casecraft.base.acting import SYSTEM, Actor, When
from casecraft.base.errors import ConflictError, InputError
from casecraft.base.fastjson import plain
from casecraft.base.records import (
    CASE_FIELDS,
    DEADLINE_FACTS,
    FACT_FIELDS,
    CaseRow,
    DeadlineRow,
    Entry,
    stage_columns,
)
from casecraft.base.text import check_id
from casecraft.store.base import Tx

HASH_VERSION = 2


# --- deadline operations --------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenDeadline:
    """Open a deadline row (``kind`` step | case) with the times of its plan."""

    kind: str
    state: str
    tier: str
    unit_code: str
    limit_text: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    escalate_at: datetime | None
    provisional: bool = False


@dataclass(frozen=True)
class CloseDeadlines:
    """Close the case's open deadlines of ``kinds``: met or late by the time (or a fixed ``outcome``, e.g. paused)."""

    kinds: tuple[str, ...] = ("step",)
    outcome: str | None = None


@dataclass(frozen=True)
class SetDeadline:
    """Set fields of one existing deadline row (an extension, a resumed clock, a recomputation, a renamed state)."""

    row: DeadlineRow
    values: dict[str, Any]


DeadlineOp = OpenDeadline | CloseDeadlines | SetDeadline


@dataclass(frozen=True)
class Step:
    """One change to a case, as the services describe it.

    Attributes:
        trigger: the workflow trigger (or side step: urge, park, extend, migrate, ...).
        changes: case fields the step sets (``state``, ``tier``, ``unit_code`` included when they change).
        deadlines: what happens to deadline rows, in order.
    """

    trigger: str
    changes: dict[str, Any] = field(default_factory=dict)
    deadlines: tuple[DeadlineOp, ...] = ()
    targets: tuple[str, ...] = ()
    outcome: str | None = None
    note: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()


# --- hashing -----------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _legacy_hash(e: Entry) -> str:
    """Hash version 1 (entries written before 0004): the step without facts, names or recorded time."""
    fields_ = {
        "case_id": e.case_id, "seq": e.seq, "at": e.at.isoformat(), "actor_id": e.actor_id,
        "actor_role": e.actor_role, "actor_unit": e.actor_unit, "trigger": e.trigger, "from_state": e.from_state,
        "to_state": e.to_state, "from_tier": e.from_tier, "to_tier": e.to_tier, "unit_code": e.unit_code,
        "targets": list(e.targets), "outcome": e.outcome, "note": e.note, "attachments": list(e.attachments),
        "prev_hash": e.prev_hash,
    }
    blob = json.dumps(fields_, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


_ENTRY_FIELDS = tuple(Entry.__dataclass_fields__)
_FACT_SET = frozenset(FACT_FIELDS)
_DEADLINE_FACT_SET = frozenset(DEADLINE_FACTS)
_AS_IS = frozenset({str, int, bool, float, type(None)})  # _plain returns these unchanged
_CASE_VALUES = attrgetter(*CASE_FIELDS)


def as_entry(row: Entry | Mapping[str, Any]) -> Entry:
    """A timeline row (a mapping of its columns) as an :class:`Entry`; an Entry as it is."""
    if isinstance(row, Entry):
        return row
    d = {k: row[k] for k in _ENTRY_FIELDS if k in row}
    d["targets"] = tuple(d.get("targets") or ())
    d["attachments"] = tuple(d.get("attachments") or ())
    d["facts"] = d.get("facts") or {}
    d["deadline_facts"] = d.get("deadline_facts") or {}
    d.setdefault("hv", 1)
    d["hv"] = d["hv"] or 1
    d["recorded_at"] = d.get("recorded_at") or d.get("at")
    d["actor_name"] = d.get("actor_name") or d.get("actor_id", "")
    for k in ("case_id", "seq", "at", "actor_id", "actor_role", "actor_unit", "trigger", "from_state", "to_state",
              "from_tier", "to_tier", "unit_code", "hash"):
        d.setdefault(k, None)
    return Entry(**d)


def entry_hash(e: Entry | Mapping[str, Any]) -> str:
    """The hash chaining an entry to the one before it (by the entry's hash version)."""
    e = as_entry(e)
    if e.hv == 1:
        return _legacy_hash(e)
    fields_ = {
        "hv": e.hv, "case_id": e.case_id, "seq": e.seq, "at": e.at, "recorded_at": e.recorded_at,
        "actor_id": e.actor_id, "actor_name": e.actor_name, "actor_role": e.actor_role, "actor_unit": e.actor_unit,
        "on_behalf_of": e.on_behalf_of, "backfill": e.backfill, "trigger": e.trigger, "from_state": e.from_state,
        "to_state": e.to_state, "from_tier": e.from_tier, "to_tier": e.to_tier, "unit_code": e.unit_code,
        "targets": e.targets, "outcome": e.outcome, "note": e.note, "attachments": e.attachments,
        "facts": e.facts, "deadline_facts": e.deadline_facts, "prev_hash": e.prev_hash,
    }
    return _hash_of(fields_)


def _hash_of(fields_: dict[str, Any]) -> str:
    """The version-2 hash of an entry's members (as :func:`entry_hash` gathers them)."""
    return hashlib.sha256(hash_text(fields_)).hexdigest()


def hash_text(fields_: dict[str, Any]) -> bytes:
    """An entry's members as the UTF-8 text its version-2 hash is taken of: ``json.dumps(_plain(fields_),
    sort_keys=True, ensure_ascii=False, separators=(",", ":"))``, by definition.

    orjson writes exactly that text ten times faster for members made only of the values both write alike
    (:func:`casecraft.base.fastjson.plain`; times through :func:`_iso` in both); anything else takes the standard
    encoder (tests/test_fast_paths.py compares the two).
    """
    if plain(fields_):
        try:
            return _orjson_dumps(fields_, default=_iso, option=_ORJSON_SORTED)
        except TypeError:  # an integer past 64 bits
            pass
    # the encoder turns tuples into lists itself and asks _iso only for times; it is made once (json.dumps with
    # options builds a new encoder on every call)
    return _HASH_JSON.encode(fields_).encode()


def _iso(value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not part of a timeline entry")


def facts_of(changes: dict[str, Any]) -> dict[str, Any]:
    """The case fields of ``changes`` an entry commits to, as JSON values (UTC times as ISO text)."""
    return {k: v if type(v) in _AS_IS else _plain(v) for k, v in changes.items() if k in _FACT_SET}


def deadline_key(kind: str, seq: int) -> str:
    return f"{kind}:{seq}"


def _open_values(case_id: int, seq: int, op: OpenDeadline) -> dict[str, Any]:
    return {"case_id": case_id, "kind": op.kind, "seq": seq, "state": op.state, "tier": op.tier,
            "unit_code": op.unit_code, "limit_text": op.limit_text, "calendar": "calendar_days",
            "started_at": op.started_at, "warn_at": op.warn_at, "due_at": op.due_at,
            "escalate_at": op.escalate_at,
            "next_alert_at": (op.warn_at or op.due_at) if op.kind == "step" else None,
            "extended": 0, "closed_at": None, "outcome": None, "provisional": op.provisional}


def _deadline_facts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if type(v) in _AS_IS else _plain(v) for k, v in values.items() if k in _DEADLINE_FACT_SET}


# --- building and writing entries -------------------------------------------------------------------
def build_entry(case_id: int, seq: int, *, before: CaseRow | None, after: dict[str, Any], step: Step, actor: Actor,
                when: When, deadline_facts: dict[str, dict[str, Any]], facts: dict[str, Any],
                prev_hash: str | None) -> Entry:
    """The entry of ``step`` (pure: no database), with its hash."""
    # the members entry_hash hashes (the same names and values), gathered once for the hash and the entry
    members: dict[str, Any] = {
        "hv": HASH_VERSION, "case_id": case_id, "seq": seq, "at": when.at, "recorded_at": when.recorded_at,
        "actor_id": actor.id, "actor_name": actor.name, "actor_role": actor.role, "actor_unit": actor.unit,
        "on_behalf_of": actor.on_behalf_of, "backfill": when.backfill, "trigger": step.trigger,
        "from_state": before.state if before else None, "to_state": after["state"],
        "from_tier": before.tier if before else None, "to_tier": after["tier"], "unit_code": after["unit_code"],
        "targets": tuple(step.targets), "outcome": step.outcome, "note": step.note,
        "attachments": tuple(step.attachments), "facts": facts, "deadline_facts": deadline_facts,
        "prev_hash": prev_hash}
    return Entry(**members, hash=_hash_of(members))


def first_entry(case_id: int, values: dict[str, Any], step: Step, actor: Actor,
                when: When) -> tuple[Entry, list[dict[str, Any]]]:
    """The first entry of a new case and its deadline rows, computed without the database (bulk intake).

    ``values`` are the new case's column values; the entry commits to all of them.
    """
    rows: list[dict[str, Any]] = []
    dfacts: dict[str, dict[str, Any]] = {}
    for op in step.deadlines:
        if not isinstance(op, OpenDeadline):
            raise TypeError("a new case can only open deadlines")
        row = _open_values(case_id, 1, op)
        rows.append(row)
        dfacts[deadline_key(op.kind, 1)] = _deadline_facts(row)
    entry = build_entry(case_id, 1, before=None, after=values, step=step, actor=actor, when=when,
                        deadline_facts=dfacts, facts=facts_of(values), prev_hash=None)
    return entry, rows



# the hash's own encoder, made once: json.dumps with options builds a new encoder on every call
_HASH_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_iso)
# the text the engine's JSON serialiser stores (casecraft.store.db: keys as given); only for values _plain made
_STORED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ORJSON_SORTED = OPT_SORT_KEYS | OPT_PASSTHROUGH_DATETIME  # times through _iso, as the standard encoder's
_string = encode_basestring  # a str's JSON text without escaping non-ASCII, as both encoders write it


class FirstEntries:
    """The first entries of many new cases that one actor's step makes at one time (bulk intake).

    What every entry of the batch shares (the actor, the times, the trigger) is made once; each
    :meth:`make` gives exactly the timeline row (columns, hash) and deadline rows that
    :func:`first_entry` gives for the same case, without building an :class:`Entry`. The facts of
    a deadline plan are computed once per plan object: pass the same :class:`OpenDeadline` objects
    for cases that share a plan.
    """

    def __init__(self, trigger: str, actor: Actor, when: When) -> None:
        # hashed as entry_hash hashes them: one JSON object, keys sorted, "," and ":" between. What every
        # entry of the batch shares is encoded once, member by member, by the same encoder; the members
        # that differ are encoded per case into their places
        shared = {
            "hv": HASH_VERSION, "seq": 1, "at": when.at, "recorded_at": when.recorded_at, "actor_id": actor.id,
            "actor_name": actor.name, "actor_role": actor.role, "actor_unit": actor.unit,
            "on_behalf_of": actor.on_behalf_of, "backfill": when.backfill, "trigger": trigger, "from_state": None,
            "from_tier": None, "targets": [], "outcome": None, "attachments": [], "prev_hash": None}
        enc = _HASH_JSON.encode
        order = sorted([*shared, "case_id", "deadline_facts", "facts", "note", "to_state", "to_tier", "unit_code"])
        self._members = [f"{enc(k)}:{enc(shared[k])}" if k in shared else "" for k in order]
        self._slots = [(i, f"{enc(k)}:", k) for i, k in enumerate(order) if k not in shared]
        # the columns, in the order of repo.entry_values (the JSON columns get fresh lists per row)
        self._row = {
            "case_id": 0, "seq": 1, "at": when.at, "recorded_at": when.recorded_at, "actor_id": actor.id,
            "actor_name": actor.name, "actor_role": actor.role, "actor_unit": actor.unit, "trigger": trigger,
            "from_state": None, "to_state": "", "from_tier": None, "to_tier": "", "unit_code": "", "targets": [],
            "outcome": None, "note": None, "attachments": [], "facts": {}, "deadline_facts": {},
            "on_behalf_of": actor.on_behalf_of, "backfill": when.backfill, "prev_hash": None, "hash": "",
            "hv": HASH_VERSION}
        self._plans: dict[tuple[int, ...], tuple[tuple[OpenDeadline, ...], dict[str, dict[str, Any]], str,
                                                   list[dict[str, Any]]]] = {}

    def _plan(self, ops: tuple[OpenDeadline, ...]) -> tuple[dict[str, dict[str, Any]], str, list[dict[str, Any]]]:
        key = tuple(map(id, ops))
        got = self._plans.get(key)
        if got is None:
            rows = [_open_values(0, 1, op) for op in ops]
            dfacts = {deadline_key(op.kind, 1): _deadline_facts(row) for op, row in zip(ops, rows, strict=True)}
            got = self._plans[key] = (ops, dfacts, _HASH_JSON.encode(dfacts), rows)  # ops kept: their ids stay
        return got[1], got[2], got[3]

    def make(self, case_id: int, values: dict[str, Any], deadlines: tuple[OpenDeadline, ...],
             note: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The timeline row (its ``hash`` set) and deadline rows of a new case with column ``values``.

        Cases of one plan share its ``deadline_facts`` dict: treat the rows as read-only.
        """
        dfacts, dfacts_text, templates = self._plan(deadlines)
        facts = {k: v if type(v) in _AS_IS else _plain(v) for k, v in values.items() if k in _FACT_SET}
        state, tier, unit = values["state"], values["tier"], values["unit_code"]
        enc = _HASH_JSON.encode
        # an int's JSON text is its repr (the encoder's own rule), without setting up an encoder for it
        differ = {"case_id": repr(case_id) if type(case_id) is int else enc(case_id),
                  "deadline_facts": dfacts_text, "facts": enc(facts), "note": enc(note),
                  "to_state": enc(state), "to_tier": enc(tier), "unit_code": enc(unit)}
        members = self._members.copy()
        for i, head, k in self._slots:
            members[i] = head + differ[k]
        row = self._row.copy()
        row.update(case_id=case_id, to_state=state, to_tier=tier, unit_code=unit, targets=[], note=note,
                   attachments=[], facts=facts, deadline_facts=dfacts,
                   hash=hashlib.sha256(("{" + ",".join(members) + "}").encode()).hexdigest())
        rows = []
        for t in templates:
            d = t.copy()
            d["case_id"] = case_id
            rows.append(d)
        return row, rows


def _fmt_text(text: str) -> str:
    """``text`` as literal text inside a ``str.format`` template."""
    return text.replace("{", "{{").replace("}", "}}")


def _percent(template: str, first: int) -> tuple[str, Any]:
    """A ``str.format`` template of numbered places as a %-template, and a getter of its arguments in the
    order of its places from the arguments numbered from ``first`` (formatting a long template by
    ``str.format`` parses it on every call: twice as slow)."""
    out: list[str] = []
    places: list[int] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal.replace("%", "%%"))
        if name is not None:
            out.append("%s")
            places.append(int(name) - first)
    getter = itemgetter(*places) if len(places) > 1 else (lambda args: (args[places[0]],)) if places else (
        lambda args: ())
    return "".join(out), getter


class FirstRows:
    """The first entries of many new cases, as text for a bulk writer (hotline import).

    The cases share most of their column values (``shared``: the workflow version, the state, the
    times, the flags); the others (``varying``, in that order) are given per case as scalars
    (text, numbers, booleans, UTC times, ``None``). For each case :meth:`make` gives the entry's
    hash (exactly :func:`entry_hash` of the entry :func:`first_entry` makes for the same case) and
    its facts as the JSON text the engine's serialiser writes into the ``facts`` column (keys in
    the order of ``keys``). Both come from templates made once: per case only the varying values
    are encoded, each once, and put into their places.
    """

    def __init__(self, trigger: str, actor: Actor, when: When, keys: Sequence[str], shared: Mapping[str, Any],
                 varying: Sequence[str]) -> None:
        facts = [k for k in keys if k in _FACT_SET]
        place = {k: i for i, k in enumerate(varying)}
        unknown = [k for k in (*facts, "state", "tier", "unit_code") if k not in shared and k not in place]
        if unknown:
            raise ValueError(f"no value for {', '.join(unknown)}")
        for k in varying:
            if k in shared:
                raise ValueError(f"{k} is both shared and varying")
        self.varying = tuple(varying)
        enc, dumps = _HASH_JSON.encode, _STORED_JSON.encode
        # placeholders {0} case id, {1} deadline facts, {2} note, {3}... the varying values
        first = 3

        def slot(k: str, how: Any) -> str:
            return "{" + str(first + place[k]) + "}" if k in place else _fmt_text(how(_plain(shared[k])))

        self._stored = "{{" + ",".join(_fmt_text(dumps(k) + ":") + slot(k, dumps) for k in facts) + "}}"
        hashed_facts = "{{" + ",".join(_fmt_text(enc(k) + ":") + slot(k, enc) for k in sorted(facts)) + "}}"
        entry: dict[str, str] = {
            "hv": enc(HASH_VERSION), "case_id": "{0}", "seq": "1", "at": enc(when.at),
            "recorded_at": enc(when.recorded_at), "actor_id": enc(actor.id), "actor_name": enc(actor.name),
            "actor_role": enc(actor.role), "actor_unit": enc(actor.unit), "on_behalf_of": enc(actor.on_behalf_of),
            "backfill": enc(when.backfill), "trigger": enc(trigger), "from_state": "null", "from_tier": "null",
            "targets": "[]", "outcome": "null", "note": "{2}", "attachments": "[]", "facts": hashed_facts,
            "deadline_facts": "{1}", "prev_hash": "null"}
        for member, k in (("to_state", "state"), ("to_tier", "tier"), ("unit_code", "unit_code")):
            entry[member] = slot(k, enc)
        fixed = {"case_id", "note", "facts", "deadline_facts", "to_state", "to_tier", "unit_code"}
        self._entry = "{{" + ",".join(
            _fmt_text(enc(k) + ":") + (v if k in fixed else _fmt_text(v)) for k, v in sorted(entry.items())) + "}}"
        self._times: dict[tuple[datetime, Any], str] = {}
        # the templates as %-templates (text for the stored facts, UTF-8 bytes for the hash: only the varying
        # parts are encoded per case) and the order their places take the arguments in
        self._stored_pct, self._stored_args = _percent(self._stored, first)
        hashed, self._entry_args = _percent(self._entry, 0)
        self._entry_pct = hashed.encode()

    def plan(self, ops: tuple[OpenDeadline, ...]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """The ``deadline_facts`` of cases with deadlines ``ops`` and their rows' values (``case_id`` 0)."""
        rows = [_open_values(0, 1, op) for op in ops]
        return {deadline_key(op.kind, 1): _deadline_facts(row) for op, row in zip(ops, rows, strict=True)}, rows

    def _text(self, v: Any) -> str:
        kind = type(v)
        if kind is str:
            return _string(v)
        if v is None:
            return "null"
        if kind is datetime:  # work orders come by the minute: the same times recur
            key = (v, v.tzinfo)  # equal times in other zones are other texts
            got = self._times.get(key)
            if got is None:
                if len(self._times) > 10_000:  # bounded whatever the file's size
                    self._times.clear()
                got = self._times[key] = _HASH_JSON.encode(v)
            return got
        if kind in (bool, int, float, date):
            return str(_HASH_JSON.encode(v))
        raise TypeError(f"a varying value must be a scalar, not {kind.__name__}")

    def make(self, case_id: int, values: Sequence[Any], deadline_facts: str, note: str | None) -> tuple[str, str]:
        """The hash of a case's first entry and its stored facts text.

        Args:
            values: the varying values, in the order given to the constructor.
            deadline_facts: the case's ``deadline_facts`` as the hash encodes them (:meth:`facts_text`).
        """
        text = self._text
        texts = [_string(v) if v.__class__ is str else text(v) for v in values]
        data = [str(int(case_id)).encode(), deadline_facts.encode(),
                b"null" if note is None else _string(note).encode(), *[t.encode() for t in texts]]
        blob = self._entry_pct % self._entry_args(data)
        return hashlib.sha256(blob).hexdigest(), self._stored_pct % self._stored_args(texts)

    @staticmethod
    def facts_text(deadline_facts: dict[str, dict[str, Any]]) -> str:
        """``deadline_facts`` as an entry's hash encodes them."""
        return str(_HASH_JSON.encode(deadline_facts))


def create(tx: Tx, values: dict[str, Any], step: Step, actor: Actor, when: When) -> int:
    """Write a new case with its first entry and deadline rows; returns its id.

    Raises:
        DuplicateKey: the case's (source, ref) ticket exists already (the transaction stays usable).
    """
    row = {**values, "version": 1, "last_hash": None}
    case_id = tx.insert_case(row)
    entry, deadlines = first_entry(case_id, {**row, "id": case_id}, step, actor, when)
    after = {"last_hash": entry.hash}
    for d in deadlines:  # the step limit on the case row, the whole case's limit a deadlines row
        if d["kind"] == "step":
            after.update(stage_columns(d))
        else:
            tx.insert_deadline(d)
    if not tx.update_case(case_id, 1, after):  # pragma: no cover - the row is ours
        raise ConflictError("case {case} changed while it was created", case=case_id)
    tx.insert_entry(entry)
    return case_id


def _apply_deadlines(tx: Tx, case: CaseRow, seq: int, ops: Sequence[DeadlineOp],
                     at: datetime) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Close and move the case's deadlines as ``ops`` say; their facts, and the rows to open (written with the
    step's other rows by ``tx.write_step``)."""
    out: dict[str, dict[str, Any]] = {}
    opened: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, OpenDeadline):
            row = _open_values(case.id, seq, op)
            opened.append(row)
            out[deadline_key(op.kind, seq)] = _deadline_facts(row)
        elif isinstance(op, CloseDeadlines):
            for d in tx.close_deadlines(case.id, at, op.kinds, op.outcome):
                out.setdefault(deadline_key(d.kind, d.seq), {}).update(
                    {"closed_at": _plain(d.closed_at), "outcome": d.outcome})
        else:
            tx.update_deadline(op.row.id, op.values)
            out.setdefault(deadline_key(op.row.kind, op.row.seq), {}).update(_deadline_facts(op.values))
    return out, opened


def append(tx: Tx, case: CaseRow, step: Step, actor: Actor, when: When, *,
           expected_version: int | None = None) -> CaseRow:
    """Append ``step`` to an existing case in ``tx`` (see :func:`append_step`); the case row as it is left."""
    return append_step(tx, case, step, actor, when, expected_version=expected_version)[0]


def append_step(tx: Tx, case: CaseRow, step: Step, actor: Actor, when: When, *,
                expected_version: int | None = None, zone: str = "UTC") -> tuple[CaseRow, Entry]:
    """Append ``step`` to an existing case in ``tx``: deadline rows, the chained entry, the case row.

    Args:
        zone: the timezone a refusal tells its times in (the case's workflow's).

    Returns:
        the case row as this transaction left it, and the entry appended.

    Raises:
        NotFound: an impossible case id.
        ConflictError: the case changed since it was read (or is not at ``expected_version``).
        InputError: the step's time lies before the case's last step (a timeline only moves forward).
    """
    check_id(case.id)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError("case {case} was changed by someone else (now at version {version}, you saw "
                            "{expected}); look at it again", case=case.id, version=case.version,
                            expected=expected_version)
    if when.at < case.updated_at:  # the times told in ``zone`` (the workflow's, from the case service)
        from zoneinfo import ZoneInfo

        shown = ZoneInfo(zone)
        raise InputError("the time {at} lies before case {case}'s last step ({last}); a timeline only moves "
                         "forward", at=when.at.astimezone(shown).isoformat(), case=case.id,
                         last=case.updated_at.astimezone(shown).isoformat())
    seq = case.version + 1
    changes = step.changes
    dfacts, opened = _apply_deadlines(tx, case, seq, step.deadlines, when.at)
    after = {"state": changes.get("state", case.state), "tier": changes.get("tier", case.tier),
             "unit_code": changes.get("unit_code", case.unit_code)}  # what build_entry reads of the row after
    entry = build_entry(case.id, seq, before=case, after=after, step=step, actor=actor, when=when,
                        deadline_facts=dfacts, facts=facts_of(changes), prev_hash=case.last_hash)
    values = {**changes, "version": seq, "last_hash": entry.hash, "updated_at": when.at}
    if not tx.write_step(case.id, case.version, values, entry, opened):  # raising rolls the transaction back
        raise ConflictError("case {case} was changed by someone else while you worked; look at it again",
                            case=case.id)
    left = dict(zip(CASE_FIELDS, _CASE_VALUES(case), strict=True))  # dataclasses.replace, without its field walk
    left.update(values)
    if "assignees" in values:
        left["assignees"] = tuple(values["assignees"] or ())
    return CaseRow(**left), entry


__all__ = ["SYSTEM", "Actor", "CloseDeadlines", "DeadlineOp", "HASH_VERSION", "OpenDeadline", "SetDeadline", "Step",
           "When", "append", "append_step", "as_entry", "build_entry", "create", "deadline_key", "entry_hash",
           "facts_of", "first_entry", "FirstEntries", "FirstRows"]
