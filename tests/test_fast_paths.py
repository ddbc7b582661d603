"""The step's fast paths give exactly what the standard ones give.

An entry's hash text is, by definition, the standard library's canonical JSON of its members; orjson writes it
faster for the values it writes alike, and every other value takes the standard encoder. The JSON columns are
written and read the same way; the views' maker makes what their constructors make."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from casecraft.base.fastjson import plain
from casecraft.cases import timeline as tl


def _standard(members: dict[str, Any]) -> bytes:
    return json.dumps(tl._plain(members), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _text(rnd: random.Random) -> str:
    """Text from every plane: controls, quotes and backslashes, CJK, line separators, non-BMP."""
    pools = [(0, 0x80), (0x80, 0x800), (0x4E00, 0x9FFF), (0x2028, 0x202A), (0xE000, 0x10000), (0x10000, 0x10FFFF)]
    out = []
    for _ in range(rnd.randrange(0, 12)):
        lo, hi = rnd.choice(pools)
        c = rnd.randrange(lo, hi)
        out.append(chr(c) if not 0xD800 <= c < 0xE000 else "x")
    return "".join(out)


def _value(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.choice([True, False])
    if kind == 2:
        return rnd.choice([0, -1, 7, 2**63 - 1, -(2**63), rnd.randrange(-10**12, 10**12)])
    if kind in (3, 4):
        return _text(rnd)
    if kind == 5:
        zone = rnd.choice([UTC, timezone(timedelta(hours=8)), timezone(timedelta(minutes=-150))])
        return datetime(rnd.randrange(1, 9999), rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24),
                        rnd.randrange(60), rnd.randrange(60), rnd.choice([0, rnd.randrange(10**6)]), tzinfo=zone)
    if kind == 6:
        return [_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if kind == 7:
        return tuple(_text(rnd) for _ in range(rnd.randrange(3)))
    return {_text(rnd): _value(rnd, depth + 1) for _ in range(rnd.randrange(5))}


def test_the_fast_text_is_the_standard_text_for_every_kind_of_member() -> None:
    rnd = random.Random(1616)
    fast = 0
    for _ in range(3000):
        members = {_text(rnd) or "k": _value(rnd) for _ in range(rnd.randrange(1, 25))}
        fast += plain(members)
        assert tl.hash_text(members) == _standard(members)
    assert fast > 1000  # most took orjson


@pytest.mark.parametrize("odd", [
    1e-05, 2.5e-07, 1e16, 0.1,  # floats: orjson writes some in another form
    2**64, -(2**63) - 1,  # integers orjson refuses
    {1: "a"}, {"x": {2: "b"}},  # keys other than text
    [[1, 2]], ("a", ("b",)), [{"x": 1.5}],  # lists of lists, a float deep inside
    datetime(2026, 12, 1).date(),  # a date (the standard encoder writes it through _iso)
])
def test_values_orjson_would_write_otherwise_take_the_standard_encoder(odd: Any) -> None:
    members = {"note": "周敏", "facts": {"state": "x", "odd": odd}, "seq": 3}
    assert tl.hash_text(members) == _standard(members)


def test_a_value_neither_encoder_knows_is_refused() -> None:
    with pytest.raises(TypeError, match="not part of a timeline entry"):
        tl.hash_text({"facts": {"x": object()}})


def test_the_hash_of_a_built_entry_is_the_standard_texts() -> None:
    actor = tl.Actor(id="wangjg", name="王建国", role="grid_leader", unit="110106004005005")
    at = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    when = tl.When(at=at, recorded_at=at + timedelta(microseconds=5), backfill=False)
    step = tl.Step(trigger="escalate", targets=("zhangwei",), note='上报"社区"\n\t\\', outcome="unsolved",
                   attachments=({"sha256": "ab" * 32, "name": "照片.jpg", "size": 1024},))
    entry = tl.build_entry(7, 3, before=None, after={"state": "s", "tier": "t", "unit_code": "u"}, step=step,
                           actor=actor, when=when, deadline_facts={"step:3": {"due_at": at.isoformat(), "extended": 0}},
                           facts={"assignees": ["zhangwei"], "feedback": {"chengang": "solved"}}, prev_hash="00" * 32)
    members = {k: getattr(entry, k) for k in entry.__dataclass_fields__ if k != "hash"}
    assert entry.hash == hashlib.sha256(_standard(members)).hexdigest() == tl.entry_hash(entry)


@pytest.mark.parametrize("text", [
    '{"assignees":["zhangwei","chengang"],"feedback":{"chengang":"solved"}}', '[]', '{}', 'null', '"周敏\\n"',
    '[12345678901234567890, -99999999999999999999]',  # past 64 bits: orjson would read floats
    '[1e400, -1e400]', '{"x": NaN}', '["\\ud800"]',  # orjson refuses these
    '[1.5, 1e-05, 0.1, -0.0, 100]', '{"a":1,"a":2}', '{"k": {"n": [true, false, null]}}',
])
def test_the_json_columns_read_back_as_json_loads_reads_them(text: str) -> None:
    from casecraft.store.db import _dumps, _loads

    for given in (text, text.encode(), memoryview(text.encode())):
        got, want = _loads(given), json.loads(text)
        assert repr(got) == repr(want) and type(got) is type(want)
    value = json.loads(text)
    assert _dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # floats, NaN included


def test_the_views_maker_makes_what_the_constructor_makes() -> None:
    """The hot paths' maker of frozen views gives an equal, equally frozen object; a missing or unknown field is
    the constructor's own error."""
    import dataclasses

    from casecraft.base.views import TimelineView, maker

    at = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    values = {f.name: None for f in dataclasses.fields(TimelineView)} | {"seq": 1, "at": at, "targets": ("a",)}
    made, built = maker(TimelineView)(**values), TimelineView(**values)
    assert made == built and repr(made) == repr(built) and hash(made) == hash(built)
    assert dataclasses.replace(made, seq=2).seq == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 3  # type: ignore[misc]
    del values["note"]
    with pytest.raises(TypeError, match="note"):
        maker(TimelineView)(**values)
    with pytest.raises(TypeError, match="nosuch"):
        maker(TimelineView)(**values, note=None, nosuch=1)
