"""The message catalogues: complete, consistent with the sources, compiled, and the language choice."""

from __future__ import annotations

import ast
import builtins
import gettext
import re
from pathlib import Path

import pytest

babel = pytest.importorskip("babel")

from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.mofile import read_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from casecraft import i18n  # noqa: E402
from casecraft.i18n_extract import constants, is_error, messages  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "casecraft"
LOCALE = PACKAGE / "locale"
ZH = LOCALE / "zh_CN" / "LC_MESSAGES"
FIELD = re.compile(r"\{(\w*)(?:![rs])?(?::[^}]*)?\}")


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    """babel.cfg's method map and options, read as `pybabel extract -F babel.cfg` reads them."""
    from babel.messages import frontend

    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        return parse(f)  # type: ignore[no-any-return]


def _extracted(only: str | None = None) -> set[str]:
    """Every message id in the sources (the Python modules and the workbench's templates), as
    `pybabel extract -F babel.cfg` finds them; ``only``: those of the files under that folder."""
    method_map, options_map = _mapping()
    found = extract_from_dir(str(PACKAGE), method_map=method_map, options_map=options_map)
    return {msg[0] if isinstance(msg, tuple) else msg for file, _line, msg, _comments, _ctx in found
            if only is None or file.replace("\\", "/").startswith(only)}


def test_the_extraction_reads_the_workbench_templates() -> None:
    """babel.cfg maps the templates to Jinja2's extractor: their messages are in the catalogue too."""
    method_map, _options = _mapping()
    assert ("**.py", "casecraft.i18n_extract.extract") in method_map
    assert any(method == "jinja2" and "templates" in pattern for pattern, method in method_map)
    templates = _extracted("web/templates/")
    assert {"Inbox", "Case #%(id)s", "Page %(p)s of %(n)s", "Log in"} <= templates
    written = {m[1] for path in (PACKAGE / "web" / "templates").glob("*.html")
               for m in re.findall(r"""_\((["'])(.*?)\1""", path.read_text(encoding="utf-8"))}
    assert len(written) > 100 and written == templates  # every _("...") of every template, nothing else
    # English ids, and no text outside _(): the Chinese is the catalogue's
    assert not [p.name for p in (PACKAGE / "web" / "templates").glob("*.html")
                if re.search(r"[\u4e00-\u9fff]", p.read_text(encoding="utf-8"))]


def _po(domain: str) -> dict[str, str]:
    with open(ZH / f"{domain}.po", "rb") as f:
        catalogue = read_po(f)
    out: dict[str, str] = {}
    for m in catalogue:
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        out[key] = m.string[0] if isinstance(m.string, tuple) else m.string
    return out


def test_every_message_in_the_sources_has_a_chinese_translation() -> None:
    """A new message without a translation fails here: run the pybabel steps in CONTRIBUTING.md."""
    ids = _extracted()
    assert len(ids) > 500  # the extraction really ran over the sources
    translated = _po("casecraft")
    missing = sorted(m for m in ids if not translated.get(m, "").strip())
    assert not missing, f"{len(missing)} message(s) without a zh_CN translation, e.g. {missing[:5]}"


def test_the_template_is_the_extraction() -> None:
    """casecraft.pot is what extraction gives now (no stale or missing ids)."""
    with open(LOCALE / "casecraft.pot", "rb") as f:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}
    assert template == _extracted()


@pytest.mark.parametrize("domain", ["casecraft", "click"])
def test_translations_keep_every_field_and_the_compiled_catalogue_is_current(domain: str) -> None:
    po = _po(domain)
    with open(ZH / f"{domain}.po", "rb") as f:
        for m in read_po(f):
            if not m.id:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            text = m.string[0] if isinstance(m.string, tuple) else m.string
            assert text.strip(), f"{domain}: {ids[0]!r} untranslated"
            fields = set(FIELD.findall(text))
            if len(ids) == 1:  # the same fields; a plural's one Chinese form takes its fields from either
                assert sorted(FIELD.findall(ids[0])) == sorted(FIELD.findall(text)), f"{ids[0]!r} -> {text!r}"
            else:
                assert fields <= {f for i in ids for f in FIELD.findall(i)}, f"{ids!r} -> {text!r}"
    with open(ZH / f"{domain}.mo", "rb") as f:
        compiled = {m.id[0] if isinstance(m.id, (tuple, list)) else m.id:
                    m.string[0] if isinstance(m.string, (tuple, list)) else m.string for m in read_mo(f) if m.id}
    assert compiled == po, f"{domain}.mo is stale: run `pybabel compile -d casecraft/locale -D {domain}`"


def test_click_catalogue_covers_typers_own_texts() -> None:
    """Typer's gettext texts (section titles, [required], defaults) all have a translation."""
    import typer

    typer_dir = Path(typer.__file__).parent
    found = extract_from_dir(str(typer_dir), method_map=[("*.py", "python")])
    ids = {msg[0] if isinstance(msg, tuple) else msg for _f, _l, msg, _c, _x in found}
    po = _po("click")
    assert ids and not sorted(ids - po.keys())


def test_the_wheel_ships_the_compiled_catalogues() -> None:
    """Hatch packages everything under casecraft/ that git tracks; the .mo files are committed, not ignored."""
    ignore = (ROOT / ".gitignore").read_text()
    assert "*.mo" not in ignore and "locale" not in ignore
    for domain in ("casecraft", "click"):
        assert (ZH / f"{domain}.mo").stat().st_size > 1000
    t = gettext.translation("casecraft", localedir=str(LOCALE), languages=["zh_CN"])
    assert t.gettext("no case {case}") == "没有案件 {case}"


def test_extraction_finds_help_docstrings_and_error_templates() -> None:
    source = '''
import typer
app = typer.Typer(help="The group.")

@app.command()
def show(ctx, case: int = typer.Option(1, help="Case id.")) -> None:
    """Show a case."""
    raise NotFound("no case {case}", case=case)

def _helper(ctx) -> None:
    """Not a command."""
'''
    found = {m for _line, m in messages(source, cli=True)}
    assert found == {"The group.", "Case id.", "Show a case.", "no case {case}"}
    assert {m for _line, m in messages(source, cli=False)} == {"no case {case}"}


# Errors whose own __init__ writes a literal template from structured arguments (a list of problems, a
# delivery's stored reason), and transitions' MachineError (internal: a validated workflow never raises it).
STRUCTURED = frozenset({"WorkflowError", "BadRowsError", "OrderRefused", "DeliveryFailed", "MachineError"})


def _untranslatable_errors(source: str, where: str) -> list[str]:
    """Errors made with a first argument that is not a literal template (or a module constant holding one)."""
    tree = ast.parse(source)
    consts = constants(tree)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if not is_error(name) or name in STRUCTURED or hasattr(builtins, name):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            continue
        target = first.value if isinstance(first, ast.Subscript) else first
        if isinstance(target, ast.Name) and target.id in consts:
            continue
        bad.append(f"{where}:{node.lineno}: {ast.unparse(node)[:100]}")
    return bad


def test_the_scan_finds_an_error_without_a_literal_template() -> None:
    source = '''
GONE = "no case {case}"
raise NotFound(f"no case {case}")
raise InputError("bad " + what)
raise RuleError(GONE, case=1)
raise InputError("bad date {day!r}", day=day)
raise ValueError(f"not ours {x}")
'''
    assert [b.split(": ", 1)[1] for b in _untranslatable_errors(source, "x")] == [
        "NotFound(f'no case {case}')", "InputError('bad ' + what)"]


def test_every_engine_error_has_a_literal_template() -> None:
    """Outside the CLI, an error's message is a catalogue template with named details, never an f-string.

    An f-string's text is not in the catalogue, so the edges could not translate it: an operator
    reading Chinese would get English.
    """
    bad: list[str] = []
    seen = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("casecraft/cli/"):
            continue
        source = path.read_text(encoding="utf-8")
        seen += source.count("Error(")
        bad += _untranslatable_errors(source, rel)
    assert seen > 100  # the scan read the sources
    assert not bad, "\n".join(bad)


WORKFLOW_CHECKS = ("workflows/validate.py", "workflows/loader.py", "workflows/yamlio.py", "workflows/lint.py",
                   "workflows/yamlevents.py", "timing/notice.py")  # and a holiday notice's problems
PROBLEM_CALLS = frozenset({"Problem", "add", "problem", "warn", "Fatal"})


def test_every_workflow_problem_has_a_literal_template() -> None:
    """A workflow file's problems and hints are built with ``render(template, details)``, never an f-string
    or a bare text: extraction finds the template and the CLI translates the message (issue 17)."""
    import ast

    bad: list[str] = []
    calls = 0
    for name in WORKFLOW_CHECKS:
        path = PACKAGE / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called not in PROBLEM_CALLS:
                continue
            calls += 1
            for arg in [*node.args, *(kw.value for kw in node.keywords if kw.arg == "hint")]:
                if isinstance(arg, ast.JoinedStr) or (isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                                                      and " " in arg.value):
                    bad.append(f"casecraft/{name}:{node.lineno}: {ast.unparse(arg)[:60]}")
    assert calls > 40  # the scan read the sources
    assert not bad, "\n".join(bad)


# where the library builds a reason a person reads (a file's bad row, an address that routes nowhere, why a
# migration or a restore is refused, why a delivery failed) and the call or list that receives it
REASON_MODULES = ("admin/org.py", "admin/versions.py", "workflows/org.py", "workflows/model.py", "intake/service.py",
                  "intake/hotline.py", "store/dump.py", "alerts/delivery.py", "alerts/sinks.py", "timing/days.py")
REASON_CALLS = frozenset({"RowProblem", "of", "AddressMatch", "DeliveryFailed", "NotEmpty", "RowRefused", "ValueError",
                          "Joined"})
REASON_LISTS = frozenset({"problems", "why", "wrong", "bad", "parts", "pieces"})


def _formatted_reasons(source: str, where: str) -> list[str]:
    """Reasons made with an f-string or a concatenation: text extraction cannot find, so no edge can translate."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        listed = (called == "append" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                  and func.value.id in REASON_LISTS)
        if called not in REASON_CALLS and not listed:
            continue
        values = [*node.args, *(kw.value for kw in node.keywords if kw.arg in ("reason", "message", "hint"))]
        values += [e for v in values if isinstance(v, ast.Tuple) for e in v.elts]  # bad.append((field, template, {}))
        for value in values:
            if isinstance(value, ast.JoinedStr) or (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)):
                bad.append(f"{where}:{node.lineno}: {ast.unparse(value)[:60]}")
    return bad


def test_the_reason_scan_finds_a_formatted_reason() -> None:
    source = '''
problems.append(f"{path}: person {pid}: unknown unit")
why.append(render("active people {people}", {"people": people}))
raise DeliveryFailed("HTTP " + str(status))
bad.append(("grid", f"'{grid}' is not a grid code", {}))
out.append(f"- {section}")
'''
    assert [b.split(": ", 1)[1] for b in _formatted_reasons(source, "x")] == [
        "f'{path}: person {pid}: unknown unit'", "'HTTP ' + str(status)", 'f"\'{grid}\' is not a grid code"']


def test_every_reason_a_person_reads_is_a_literal_template() -> None:
    """Organisation rows, address routing, migration and restore refusals, delivery failures and the workflow
    file's model checks build their reasons with ``render(template, details)`` (issue 17)."""
    bad: list[str] = []
    for name in REASON_MODULES:
        bad += _formatted_reasons((PACKAGE / name).read_text(encoding="utf-8"), f"casecraft/{name}")
    assert not bad, "\n".join(bad)


# what builds text a person reads from words: a version diff's lines, a notice's warnings, the kept dates of a notice
WORDED = (("admin/versions.py", ("lines", "_item", "_change", "diff_workflows")), ("timing/notice.py", ("_warnings",)),
          ("admin/calendar.py", ("import_file",)), ("timing/days.py", ("parse_calendar_csv", "_iso_date")))


def _fstrings(source: str, functions: tuple[str, ...], where: str) -> list[str]:
    """f-strings inside the named functions (nested ones included)."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            bad += [f"{where}:{n.lineno}: {ast.unparse(n)[:60]}" for n in ast.walk(node)
                    if isinstance(n, ast.JoinedStr)]
    return bad


def test_diff_lines_and_calendar_notes_are_literal_templates() -> None:
    """`workflow diff`'s lines, a notice's warnings and a CSV's reasons are ``render(template, details)`` (issue 17);
    the ids inside them (a transition's key) are made elsewhere."""
    assert _fstrings('def lines():\n    out.append(f"- {section}")\n', ("lines",), "x") == ["x:2: f'- {section}'"]
    bad: list[str] = []
    for name, functions in WORDED:
        bad += _fstrings((PACKAGE / name).read_text(encoding="utf-8"), functions, f"casecraft/{name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("env", "explicit", "expected"), [
    ({}, None, "en"),
    ({"LANG": "zh_CN.UTF-8"}, None, "zh_CN"),
    ({"LANG": "C"}, None, "en"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, None, "en"),  # LC_ALL wins over LANG
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, None, "zh_CN"),
    ({"LANG": "zh_CN.UTF-8", "CASECRAFT_LANG": "en"}, None, "en"),
    ({"LANG": "C", "CASECRAFT_LANG": "zh"}, None, "zh_CN"),
    ({"CASECRAFT_LANG": "zh"}, "en", "en"),  # --lang wins
    ({"LANG": "fr_FR.UTF-8"}, None, "en"),
    ({"CASECRAFT_LANG": "klingon", "LANG": "zh_CN.UTF-8"}, None, "zh_CN"),
])
def test_language_choice(env: dict[str, str], explicit: str | None, expected: str) -> None:
    assert i18n.detect(explicit, env) == expected


@pytest.mark.parametrize(("header", "expected"), [
    (None, "en"), ("", "en"), ("zh-CN", "zh_CN"), ("zh-Hans-CN,zh;q=0.9", "zh_CN"),
    ("en-US,en;q=0.9,zh;q=0.8", "en"), ("fr;q=1, zh;q=0.5", "zh_CN"), ("zh;q=0, en", "en"), ("*", "en"),
    ("fr, de", "en"), ("zh;q=abc, en;q=0.1", "en"),
])
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.from_accept_language(header) == expected


def test_durations_and_people_in_both_languages() -> None:
    assert i18n.duration(23 * 3600 + 59 * 60, "zh_CN") == "剩余23小时59分"
    assert i18n.duration(-(2 * 86400 + 3600), "zh_CN") == "超时2天1小时"
    assert i18n.duration(23 * 3600 + 59 * 60, "en") == "23h 59m left"
    assert i18n.person("王建国", "wangjg") == "王建国 (wangjg)"
    assert i18n.person(None, "wangjg") == "wangjg"


def test_an_error_is_translated_at_the_edge_with_its_details() -> None:
    from casecraft.base.errors import NotFound, PermissionDenied

    exc = NotFound("no case {case}", case=42)
    assert exc.message == "no case 42"  # the library stays English
    assert i18n.error_message(exc, "zh_CN") == "没有案件 42"
    assert i18n.error_message(exc, "en") == "no case 42"
    why = "周敏(zhoumin) has role(s) operator; 'resolve' here needs one of: grid_leader(网格长)"
    nested = PermissionDenied("{name} may not '{trigger}' case {case}: {why}", name="周敏", trigger="resolve",
                              case=1, why=why)
    assert i18n.error_message(nested, "zh_CN") == ("周敏 不能对案件 1 执行 'resolve'：周敏(zhoumin) 的角色为 operator；"
                                                   "此处 'resolve' 需要以下角色之一：grid_leader(网格长)")


def _tour_commands(name: str) -> list[list[str]]:
    import shlex

    text = (ROOT / name).read_text(encoding="utf-8")
    block = text.split("<!-- tour -->", 1)[1].split("<!-- /tour -->", 1)[0]
    script = re.findall(r"```bash\n(.*?)```", block, flags=re.S)[0].replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in script.splitlines() if shlex.split(line, comments=True)]


def test_the_chinese_readme_has_install_the_two_commands_and_the_same_tour() -> None:
    text = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "## 安装" in text and "## 两条命令快速上手" in text
    quick = text.split("## 两条命令快速上手", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick, flags=re.S)
    assert len(commands) == 2 and "casecraft demo" in commands[0] and "pytest" in commands[1]
    assert _tour_commands("README.zh-CN.md") == _tour_commands("README.md")  # the same commands, comments translated
    assert len(_tour_commands("README.md")) > 50
