"""Pictures of a workflow: Mermaid ``stateDiagram-v2`` text, Graphviz DOT, PNG and SVG.

Mermaid and DOT are plain text built here with no dependency. PNG and SVG are
drawn by pygraphviz (its wheels bundle Graphviz, so no system package is
needed), imported only when a picture is asked for. Tiers are clusters, states
carry their Chinese label, edges carry the trigger, its condition and the time
limit of the step they start. A :class:`Highlight` marks one case's path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casecraft.base.duration import Duration
from casecraft.base.errors import InputError
from casecraft.workflows.shape import Transition
from casecraft.workflows.spec import Workflow

FORMATS = ("mermaid", "dot", "png", "svg", "bpmn")
SUFFIXES = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot",
            ".png": "png", ".svg": "svg", ".bpmn": "bpmn", ".xml": "bpmn"}
VISITED = "#fde68a"   # amber: states the case went through
CURRENT = "#f97316"   # orange: where the case is now
PATH_EDGE = "#dc2626"  # red: transitions the case took


@dataclass(frozen=True)
class Highlight:
    """One case's path through the workflow, to draw on top of it.

    Attributes:
        states: states the case has been in, in order.
        edges: (from_state, trigger, to_state) of every step it took.
        current: the state it is in now.
    """

    states: tuple[str, ...] = ()
    edges: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)
    current: str | None = None

    @classmethod
    def from_timeline(cls, entries: Iterable[Any], current: str | None, initial: str | None = None) -> Highlight:
        """Build from a case's timeline entries (anything with from_state, trigger, to_state).

        The first entry (the report) has no from_state: the case left ``initial``.
        """
        states: list[str] = []
        edges: set[tuple[str, str, str]] = set()
        for e in entries:
            src, trig, dst = e.from_state or initial, e.trigger, e.to_state
            for s in (src, dst):
                if s and s not in states:
                    states.append(s)
            if src:
                edges.add((src, trig, dst))
        return cls(tuple(states), frozenset(edges), current)


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The diagram format: ``fmt`` if given, else guessed from the file's suffix.

    Raises:
        InputError: an unknown format or suffix.
    """
    if fmt:
        if fmt not in FORMATS:
            raise InputError("unknown diagram format '{format}'; use one of: {formats}", format=fmt,
                             formats=", ".join(FORMATS))
        return fmt
    guessed = SUFFIXES.get(Path(path).suffix.lower())
    if guessed is None:
        raise InputError("cannot tell the diagram format from '{path}'; name the file .mmd, .dot, .png, .svg or "
                         ".bpmn, or give the format", path=str(path))
    return guessed


def limit_label(text: str | None) -> str:
    """'4 working hours' → '4工作时' (the text itself if it does not parse)."""
    if not text:
        return ""
    try:
        return Duration.parse(text).label
    except ValueError:
        return text


def _condition(tr: Transition) -> str:
    if tr.when is None:
        return ""
    parts = [f"{k}={v}" for k, v in tr.when.given()]
    return ", ".join(parts)


def edge_label(wf: Workflow, tr: Transition) -> str:
    """Trigger label, its condition and the limit of the step it starts, e.g. '上报 [outcome=solved] 限1工作日'."""
    text = wf.trigger_label(tr.trigger)
    cond = _condition(tr)
    if cond:
        text += f" [{cond}]"
    dest = wf.states.get(tr.dest)
    if dest is not None and dest.limit and not dest.final:
        text += f" 限{limit_label(dest.limit)}"
    return text


def edges(wf: Workflow) -> list[tuple[str, str, Transition]]:
    """(source, dest, transition) for every source of every transition, in file order."""
    return [(src, tr.dest, tr) for tr in wf.file.transitions for src in tr.sources]


# --- Mermaid -----------------------------------------------------------------------------------


def _mm(text: str) -> str:
    # Mermaid labels end at a colon or a line break and choke on quotes and braces
    return (text.replace(":", "：").replace('"', "'").replace("{", "(").replace("}", ")")
            .replace(";", "；").replace("\n", " "))


def mermaid(wf: Workflow, highlight: Highlight | None = None) -> str:
    """Mermaid ``stateDiagram-v2`` text: one composite state per tier, limits on the edges."""
    lines = ["---", f"title: {_mm(wf.name)}", "---", "stateDiagram-v2", "    direction TB"]
    for tier in wf.file.tiers:
        members = [s for s in wf.file.states if s.tier == tier.id]
        if not members:
            continue
        lines.append(f'    state "{_mm(tier.label)} {tier.id}" as tier_{tier.id} {{')
        for s in members:
            label = s.label + (f"（时限{limit_label(s.limit)}）" if s.limit else "")
            lines.append(f'        state "{_mm(label)}" as {s.id}')
        lines.append("    }")
    lines.append(f"    [*] --> {wf.initial}")
    for src, dst, tr in edges(wf):
        lines.append(f"    {src} --> {dst} : {_mm(edge_label(wf, tr))}")
    for s in wf.file.states:
        if s.final:
            lines.append(f"    {s.id} --> [*]")
    if highlight is not None:
        lines.append(f"    classDef visited fill:{VISITED},stroke:{PATH_EDGE},stroke-width:2px")
        lines.append(f"    classDef current fill:{CURRENT},stroke:{PATH_EDGE},stroke-width:3px,font-weight:bold")
        visited = [s for s in highlight.states if s in wf.states and s != highlight.current]
        if visited:
            lines.append(f"    class {','.join(visited)} visited")
        if highlight.current in wf.states:
            lines.append(f"    class {highlight.current} current")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT --------------------------------------------------------------------------------


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(wf: Workflow, highlight: Highlight | None = None, *, font: str = "sans-serif") -> str:
    """Graphviz DOT text: tiers as clusters (bottom tier last), limits on edges, Chinese labels."""
    hl = highlight or Highlight()
    out = [f"digraph {_q(wf.id)} {{",
           f"  graph [label={_q(wf.name)}, labelloc=t, fontsize=20, rankdir=TB, newrank=true, "
           f"compound=true, fontname={_q(font)}];",
           f"  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname={_q(font)}, "
           "fontsize=12];",
           f"  edge [fontname={_q(font)}, fontsize=10, color=\"#555555\"];",
           "  __start [shape=circle, label=\"\", width=0.25, style=filled, fillcolor=black];"]
    for tier in reversed(wf.file.tiers):  # top tier first: escalation points up the page
        members = [s for s in wf.file.states if s.tier == tier.id]
        if not members:
            continue
        out.append(f"  subgraph {_q('cluster_' + tier.id)} {{")
        out.append(f"    label={_q(f'{tier.label} ({tier.id})')}; style=\"rounded,filled\"; "
                   f"fillcolor=\"#f3f4f6\"; color=\"#9ca3af\";")
        for s in members:
            label = s.label + (f"\n时限 {limit_label(s.limit)}" if s.limit else "")
            attrs = [f"label={_q(label)}"]
            if s.final:
                attrs.append("peripheries=2")
            if s.id == hl.current:
                attrs += [f"fillcolor={_q(CURRENT)}", f"color={_q(PATH_EDGE)}", "penwidth=3"]
            elif s.id in hl.states:
                attrs += [f"fillcolor={_q(VISITED)}", f"color={_q(PATH_EDGE)}", "penwidth=2"]
            out.append(f"    {_q(s.id)} [{', '.join(attrs)}];")
        out.append("  }")
    out.append(f"  __start -> {_q(wf.initial)};")
    for src, dst, tr in edges(wf):
        attrs = [f"label={_q(edge_label(wf, tr))}"]
        if (src, tr.trigger, dst) in hl.edges:
            attrs += [f"color={_q(PATH_EDGE)}", f"fontcolor={_q(PATH_EDGE)}", "penwidth=2.5"]
        out.append(f"  {_q(src)} -> {_q(dst)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _fontconfig(font: Path) -> None:
    """Point the Graphviz bundled in pygraphviz at the CJK font's folder (unless the user chose a config).

    Its fontconfig then needs no system configuration, and any font family
    asked for resolves to a font with Chinese glyphs: labels never become tofu.
    """
    if os.environ.get("FONTCONFIG_FILE"):
        return
    base = Path(tempfile.gettempdir()) / f"casecraft-fontconfig-{os.getuid() if hasattr(os, 'getuid') else 0}"
    base.mkdir(parents=True, exist_ok=True)
    conf = base / "fonts.conf"
    text = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f"  <dir>{font.parent}</dir>\n  <cachedir>{base / 'cache'}</cachedir>\n</fontconfig>\n")
    if not conf.is_file() or conf.read_text(encoding="utf-8") != text:
        conf.write_text(text, encoding="utf-8")
    os.environ["FONTCONFIG_FILE"] = str(conf)


def render(dot_text: str, fmt: str, path: str | os.PathLike[str]) -> None:
    """Lay out DOT text with Graphviz and write a PNG or SVG file.

    Raises:
        InputError: pygraphviz is not installed or no CJK font is found (says what to install).
    """
    if fmt not in ("png", "svg"):
        raise InputError("cannot render '{format}' with Graphviz; use png or svg", format=fmt)
    from casecraft.fonts import cjk_font

    _fontconfig(cjk_font())  # before Graphviz loads: fontconfig reads its configuration once
    try:
        import pygraphviz
    except ImportError:
        raise InputError("PNG and SVG need pygraphviz: `pip install 'casecraft[diagrams]'` (or draw the DOT format "
                         "and run Graphviz yourself)") from None
    graph = pygraphviz.AGraph(string=dot_text)
    with _quiet_fontconfig():
        graph.draw(str(path), format=fmt, prog="dot")


@contextmanager
def _quiet_fontconfig() -> Iterator[None]:
    """Drop the bundled fontconfig's warning about Debian's newer config syntax; pass anything else on."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for raw in sink.read().decode("utf-8", "replace").splitlines():
                if raw.strip() and not raw.startswith("Fontconfig warning"):
                    print(raw, file=sys.stderr)


def write(wf: Workflow, path: str | os.PathLike[str], fmt: str | None = None,
          highlight: Highlight | None = None) -> str:
    """Write the workflow as a diagram file; returns the format used."""
    kind = format_for(path, fmt)
    target = Path(path)
    if kind == "mermaid":
        target.write_text(mermaid(wf, highlight), encoding="utf-8")
    elif kind == "dot":
        target.write_text(dot(wf, highlight), encoding="utf-8")
    elif kind == "bpmn":
        from casecraft.workflows.bpmn import bpmn_xml

        target.write_text(bpmn_xml(wf, highlight), encoding="utf-8")
    else:
        render(dot(wf, highlight), kind, target)
    return kind


def case_diagram(engine: Any, case_id: int, path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Draw the workflow version a case runs on, with the case's path highlighted; returns the format.

    Args:
        engine: a :class:`casecraft.engine.Engine`.
    """
    view = engine.get(case_id)
    wf = engine.spec_for(engine.version_id(view.workflow_version))
    return write(wf, path, fmt, Highlight.from_timeline(view.timeline, view.state, wf.initial))


__all__ = ["FORMATS", "Highlight", "case_diagram", "dot", "edge_label", "format_for", "limit_label", "mermaid",
           "render", "write"]
