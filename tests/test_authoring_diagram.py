"""Diagrams of the workflow: Mermaid text, Graphviz DOT, PNG/SVG with Chinese labels, a case's path.

DOT is parsed back by Graphviz (pygraphviz) to check clusters, nodes and edges;
PNG and SVG are drawn for real with the bundled Graphviz and a CJK font.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casecraft.base.errors import InputError
from casecraft.cli.main import app
from casecraft.fonts import cjk_font
from casecraft.workflows import load_workflow
from casecraft.workflows.diagram import Highlight, dot, edge_label, edges, format_for, limit_label, mermaid, write
from tests.conftest import WORKFLOW

GRID5 = "110106004005005"


@pytest.fixture(scope="module")
def wf():  # type: ignore[no-untyped-def]
    return load_workflow(WORKFLOW)


def test_limit_and_edge_labels(wf) -> None:  # type: ignore[no-untyped-def]
    assert limit_label("4 working hours") == "4工作时" and limit_label("1 working day") == "1工作日"
    assert limit_label("30 minutes") == "30分钟" and limit_label(None) == ""
    esc = next(tr for tr in wf.file.transitions if tr.trigger == "escalate" and tr.source == "grid_handling")
    assert edge_label(wf, esc) == "上报 限1工作日"
    fb = next(tr for tr in wf.file.transitions if tr.trigger == "feedback" and tr.source == "grid_dispatched")
    assert edge_label(wf, fb) == "反馈 [outcome=solved] 限1工作日"
    close = next(tr for tr in wf.file.transitions if tr.trigger == "close")
    assert edge_label(wf, close) == "结案"  # a final state has no limit


def test_mermaid_state_diagram(wf) -> None:  # type: ignore[no-untyped-def]
    text = mermaid(wf)
    lines = text.splitlines()
    assert lines[:5] == ["---", "title: 东高地街道网格化案件处置流程", "---", "stateDiagram-v2", "    direction TB"]
    # one composite state per tier, each state declared once, inside its tier
    for tier in wf.file.tiers:
        assert f'    state "{tier.label} {tier.id}" as tier_{tier.id} {{' in lines
    declared = re.findall(r'^        state "([^"]+)" as (\w+)$', text, re.M)
    assert sorted(sid for _, sid in declared) == sorted(wf.states)
    assert ("网格处置中（时限4工作时）", "grid_handling") in declared
    # every transition, once per source, with its label; start and end markers
    arrows = [ln for ln in lines if " --> " in ln and "[*]" not in ln]
    assert len(arrows) == len(edges(wf))
    assert "    grid_handling --> community_handling : 上报 限1工作日" in lines
    assert "    [*] --> new" in lines and "    closed --> [*]" in lines and "    rejected --> [*]" in lines
    assert all(":" not in ln.split(" : ", 1)[1] for ln in arrows)  # a colon would end a Mermaid label
    assert "classDef" not in text


def test_mermaid_highlights_a_path(wf) -> None:  # type: ignore[no-untyped-def]
    hl = Highlight(("new", "grid_handling", "community_handling"),
                   frozenset({("new", "report", "grid_handling")}), "community_handling")
    text = mermaid(wf, hl)
    assert "    class new,grid_handling visited" in text
    assert "    class community_handling current" in text


def test_dot_parses_back_with_clusters_and_limits(wf) -> None:  # type: ignore[no-untyped-def]
    import pygraphviz

    graph = pygraphviz.AGraph(string=dot(wf))
    clusters = {sg.name: sg for sg in graph.subgraphs()}
    assert set(clusters) == {f"cluster_{t}" for t in wf.tiers}
    assert clusters["cluster_street"].graph_attr["label"] == "街道 (street)"
    assert {n for n in clusters["cluster_grid"].nodes()} == {s.id for s in wf.file.states if s.tier == "grid"}
    assert graph.get_node("grid_handling").attr["label"] == "网格处置中\\n时限 4工作时"
    assert graph.get_node("closed").attr["peripheries"] == "2"
    assert graph.number_of_edges() == len(edges(wf)) + 1  # and the start marker
    labels = {e.attr["label"] for e in graph.edges()}
    assert "上报 限1工作日" in labels and "派遣 限3工作日" in labels


def test_dot_highlights_a_path(wf) -> None:  # type: ignore[no-untyped-def]
    import pygraphviz

    hl = Highlight(("new", "grid_handling"), frozenset({("new", "report", "grid_handling")}), "grid_handling")
    graph = pygraphviz.AGraph(string=dot(wf, hl))
    assert graph.get_node("grid_handling").attr["penwidth"] == "3"
    red = [(e[0], e[1]) for e in graph.edges() if e.attr.get("penwidth") == "2.5"]
    assert red == [("new", "grid_handling")]  # only the patrol report, not the informant's


def test_png_and_svg_render_with_a_cjk_font(wf, tmp_path: Path, capfd: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FONTCONFIG_FILE", raising=False)  # a user's own config would be respected instead
    png, svg = tmp_path / "wf.png", tmp_path / "wf.svg"
    assert write(wf, png) == "png" and write(wf, svg) == "svg"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1000 and height > 1000
    text = svg.read_text(encoding="utf-8")
    assert "网格处置中" in text and "联席会 (joint_meeting)" in text
    # Graphviz's fontconfig is pointed at the folder of the CJK font, so no label falls back to tofu
    conf = Path(os.environ["FONTCONFIG_FILE"]).read_text(encoding="utf-8")
    assert f"<dir>{cjk_font().parent}</dir>" in conf
    assert "Fontconfig" not in capfd.readouterr().err


def test_format_from_suffix() -> None:
    assert [format_for(f"x{s}") for s in (".mmd", ".dot", ".png", ".svg", ".bpmn")] == [
        "mermaid", "dot", "png", "svg", "bpmn"]
    assert format_for("x.txt", "dot") == "dot"
    with pytest.raises(InputError, match="cannot tell"):
        format_for("x.txt")
    with pytest.raises(InputError, match="unknown diagram format"):
        format_for("x.png", "jpeg")


def _run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.stdout if code == 0 else result.stderr


def test_cli_workflow_diagram(tmp_path: Path) -> None:
    runner = CliRunner()
    wf = ["--workflow", str(WORKFLOW)]
    assert _run(runner, *wf, "workflow", "diagram", "--format", "mermaid").startswith("---\ntitle:")
    assert _run(runner, *wf, "workflow", "diagram", "-f", "dot").startswith('digraph "dongaodi-grid"')
    assert "<bpmn:definitions" in _run(runner, *wf, "workflow", "diagram", "-f", "bpmn")
    for name in ("w.png", "w.svg", "w.mmd", "w.dot", "w.bpmn"):
        _run(runner, *wf, "workflow", "diagram", "-o", str(tmp_path / name))
        assert (tmp_path / name).stat().st_size > 1000, name
    assert "write it to a file" in _run(runner, *wf, "workflow", "diagram", "-f", "png", code=2)
    assert "give --format" in _run(runner, *wf, "workflow", "diagram", code=2)
    assert "cannot tell" in _run(runner, *wf, "workflow", "diagram", "-o", str(tmp_path / "w.txt"), code=2)
    minimal = Path(__file__).parent / "data" / "workflows" / "minimal.yaml"
    assert "最小流程" in _run(runner, "workflow", "diagram", str(minimal), "-f", "mermaid")
