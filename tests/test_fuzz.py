"""Fuzz targets (hypothesis): the YAML workflow loader and the backup reader never crash.

Whatever bytes they are given, they either load or raise the project's own
input error (``WorkflowError`` with positioned problems; ``InputError`` for a
backup) — never a ``KeyError``, ``RecursionError`` or a ruamel exception. The
inputs are random bytes, random YAML-shaped documents, and mutations of a
valid workflow (a character replaced, a line dropped, duplicated or
re-indented), which reach much deeper into validation than random text does.
libyaml (the fast path) and ruamel's pure parser (the reference) must read
every such text, and strings of YAML punctuation, the same way.
``CASECRAFT_FUZZ_EXAMPLES`` sets the examples per target (default 60).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casecraft import Engine, InputError, RuleError, WorkflowError
from casecraft.audit import backup
from casecraft.workflows import yamlio
from casecraft.workflows.loader import load_workflow

DATA = Path(__file__).resolve().parent / "data" / "workflows"
VALID = (DATA / "minimal.yaml").read_text(encoding="utf-8")
EXAMPLES = int(os.environ.get("CASECRAFT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_DIR = Path(tempfile.mkdtemp(prefix="casecraft-fuzz-"))
shutil.copyfile(DATA / "minimal-org.yaml", _DIR / "minimal-org.yaml")


def load_bytes(data: bytes) -> None:
    """Load ``data`` as a workflow file beside the minimal organisation: a Workflow or WorkflowError only.

    Also: libyaml and the pure parser read it the same (see :func:`_agree`).
    """
    path = _DIR / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_workflow(path)
    except WorkflowError as exc:
        assert exc.problems, "a WorkflowError must name at least one problem"
        for p in exc.problems:
            assert p.line >= 1 and p.column >= 1 and p.message
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    _agree(text)


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    load_bytes(data)


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20), st.sampled_from(["grid", "new", "closed", "report", "4 working hours",
                                                                "yes", "no", "on", "off", "~", "0101"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["id", "label", "tier", "trigger", "source", "dest", "roles", "limit", "final", "when", "requires",
         "code", "class", "urgency", "responsible", "workflow", "timezone", "initial"]), inner, max_size=5)),
    max_leaves=30)
TOP_KEYS = ["workflow", "tiers", "roles", "triggers", "states", "transitions", "urgencies", "classes", "categories",
            "evaluation", "extra"]


@FUZZ
@given(st.dictionaries(st.sampled_from(TOP_KEYS), yaml_values, max_size=10))
def test_yaml_shaped_documents(doc: dict[str, object]) -> None:
    load_bytes(json.dumps(doc, ensure_ascii=False).encode())  # JSON is YAML 1.2


@st.composite
def mutations(draw: st.DrawFn) -> str:
    lines = VALID.splitlines(keepends=True)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        how = draw(st.sampled_from(["char", "drop", "dup", "indent", "swap"]))
        if how == "char" and lines[i].strip():
            j = draw(st.integers(min_value=0, max_value=len(lines[i]) - 1))
            c = draw(st.sampled_from(list(":{}[],-&*!|>'\"#%@`\t ") + ["x", "网", "\x00", "\u3000"]))
            lines[i] = lines[i][:j] + c + lines[i][j + 1:]
        elif how == "drop":
            lines.pop(i)
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "indent":
            lines[i] = " " * draw(st.integers(min_value=0, max_value=6)) + lines[i].lstrip(" ")
        else:
            k = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[k] = lines[k], lines[i]
        if not lines:
            break
    return "".join(lines)


@FUZZ
@given(mutations())
def test_mutated_valid_workflow(text: str) -> None:
    load_bytes(text.encode("utf-8", errors="surrogatepass"))


def _read(parse: object, text: str) -> object:
    """What a parser makes of ``text``: data, positions and problems, or the problems it stopped at."""
    try:
        doc = parse(text, "f")  # type: ignore[operator]
    except WorkflowError as exc:
        return [str(p) for p in exc.problems]
    return repr(doc.data), doc.values, doc.keys, doc.sources, [str(p) for p in doc.problems]


def _agree(text: str) -> None:
    """Whatever both parsers read, they read the same: data, positions, problems."""
    if yamlio._c_parser() is None:
        return  # ruamel.yaml.clib not installed: the pure parser is the only one
    fast, reference = _read(yamlio.parse_text, text), _read(yamlio._parse_pure, text)
    if isinstance(reference, list) and not isinstance(fast, list):
        return  # malformed syntax libyaml tolerates and the reference refuses (`|+2#`): no meaning differs
    if "\ufeff" in text[1:] and isinstance(fast, tuple) and isinstance(reference, tuple):
        # ruamel's pure reader does not count a U+FEFF as a column (libyaml does, as editors do): after one, the
        # positions differ by it; the data must not
        fast, reference = fast[0], reference[0]
    assert fast == reference


@FUZZ
@given(st.lists(st.sampled_from(list("ab: -?[]{},&*!|>'\"#\n\t<%@`~.0\\\r\x85\u2028=+") +
                                ["  ", "网", "- ", ": ", "\n  ", "---", "...", "|+2", ">-", "<<", "!!str ", "\\u0041"]),
                max_size=40).map("".join))
def test_libyaml_reads_yaml_punctuation_as_the_pure_parser_does(text: str) -> None:
    # libyaml is only a fast path: whatever it reads must come out exactly as the reference reads it
    _agree(text)


# --------------------------------------------------------------------------- the backup reader

_DB = _DIR / "empty.db"


@functools.cache
def _engine() -> Engine:
    return Engine(f"sqlite:///{_DB}")


@FUZZ
@given(st.lists(st.one_of(
    st.binary(max_size=200),
    st.builds(lambda t, r: json.dumps({"table": t, "row": r}).encode(),
              st.sampled_from(["units", "cases", "timeline", "calendar_days", "nope"]),
              st.dictionaries(st.sampled_from(["id", "code", "name", "day", "at", "updated_at", "state", "evil"]),
                              yaml_scalars, max_size=5)),
    st.just(b'{"casecraft_backup":1,"schema":"0003","tables":[]}'),
    st.just(b'{"end":{"rows":{},"sha256":""}}'),
), max_size=8))
def test_backup_reader(lines: list[bytes]) -> None:
    path = _DIR / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines))
    eng = _engine()
    try:
        backup.import_backup(eng, path)
    except (InputError, RuleError):
        pass
    with eng.store.read() as tx:
        assert all(not tx.table_rows(t) for t in ("units", "cases", "timeline", "calendar_days"))
