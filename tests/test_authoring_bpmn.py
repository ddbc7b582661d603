"""BPMN 2.0 export: valid against the OMG XSDs shipped in SpiffWorkflow, lanes per tier, user tasks,
timer boundary events for limits, sequence flows for transitions, diagram interchange for modelers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from casecraft.workflows import load_workflow
from casecraft.workflows.bpmn import bpmn_xml, iso_duration
from casecraft.workflows.diagram import Highlight
from tests.conftest import WORKFLOW

MINIMAL = Path(__file__).parent / "data" / "workflows" / "minimal.yaml"
B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
NS = {"bpmn": B[1:-1], "bpmndi": DI[1:-1], "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    import SpiffWorkflow

    path = Path(SpiffWorkflow.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(scope="module")
def wf():  # type: ignore[no-untyped-def]
    return load_workflow(WORKFLOW)


def test_iso_durations() -> None:
    assert [iso_duration(t) for t in ("4 working hours", "1 working day", "30 minutes", "3天")] == [
        "PT4H", "P1D", "PT30M", "P3D"]


@pytest.mark.parametrize("path", [WORKFLOW, MINIMAL], ids=["default", "minimal"])
def test_valid_against_the_omg_xsd(xsd: etree.XMLSchema, path: Path) -> None:
    doc = etree.fromstring(bpmn_xml(load_workflow(path)).encode())
    assert xsd.validate(doc), xsd.error_log


def test_highlighted_export_is_valid(xsd: etree.XMLSchema, wf) -> None:  # type: ignore[no-untyped-def]
    hl = Highlight(("new", "grid_handling"), frozenset({("new", "report", "grid_handling")}), "grid_handling")
    doc = etree.fromstring(bpmn_xml(wf, hl).encode())
    assert xsd.validate(doc), xsd.error_log
    shape = doc.find(".//bpmndi:BPMNShape[@bpmnElement='Task_grid_handling']", NS)
    assert shape is not None and shape.get("{http://bpmn.io/schema/bpmn/biocolor/1.0}stroke")


def test_structure(wf) -> None:  # type: ignore[no-untyped-def]
    doc = etree.fromstring(bpmn_xml(wf).encode())
    proc = doc.find("bpmn:process", NS)
    assert proc is not None
    lanes = proc.findall("bpmn:laneSet/bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == ["联席会", "区", "街道", "社区", "网格"]  # top tier on top
    by_lane = {lane.get("id"): {r.text for r in lane.findall("bpmn:flowNodeRef", NS)} for lane in lanes}
    assert "Task_street_dispatched" in by_lane["Lane_street"]
    tasks = {t.get("id"): t.get("name") for t in proc.findall("bpmn:userTask", NS)}
    timed_or_not = {s.id for s in wf.file.states if not s.final and s.id != wf.initial}
    assert set(tasks) == {f"Task_{s}" for s in timed_or_not}
    assert tasks["Task_grid_handling"] == "网格处置中"
    assert proc.find("bpmn:startEvent", NS).get("name") == "新建"
    assert {e.get("id") for e in proc.findall("bpmn:endEvent", NS)} == {"EndEvent_closed", "EndEvent_rejected"}
    # a non-interrupting timer on every timed task, with the nominal ISO length
    timers = {b.get("attachedToRef"): b for b in proc.findall("bpmn:boundaryEvent", NS)}
    assert set(timers) == {f"Task_{s.id}" for s in wf.file.states if s.limit}
    t = timers["Task_street_dispatched"]
    assert t.get("cancelActivity") == "false" and t.get("name") == "时限 3工作日"
    assert t.find("bpmn:timerEventDefinition/bpmn:timeDuration", NS).text == "P3D"
    # escalation is a flow between lanes; a state with several ways out goes through a gateway
    flows = proc.findall("bpmn:sequenceFlow", NS)
    esc = [f for f in flows if f.get("name") == "上报" and f.get("targetRef") == "Task_community_handling"]
    assert len(esc) == 1 and esc[0].get("sourceRef") == "Gateway_grid_handling"
    assert esc[0].find("bpmn:conditionExpression", NS).text == "trigger == 'escalate'"
    ids = {e.get("id") for e in proc.iter() if e.get("id")}
    assert all(f.get("sourceRef") in ids and f.get("targetRef") in ids for f in flows)
    n_edges = sum(len(tr.sources) for tr in wf.file.transitions)
    n_gates = len(proc.findall("bpmn:exclusiveGateway", NS))
    assert len(flows) == n_edges + n_gates


def test_every_element_has_diagram_coordinates(wf) -> None:  # type: ignore[no-untyped-def]
    doc = etree.fromstring(bpmn_xml(wf).encode())
    proc = doc.find("bpmn:process", NS)
    drawn = {s.get("bpmnElement"): s for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}
    for tag in ("userTask", "startEvent", "endEvent", "exclusiveGateway", "boundaryEvent", "lane"):
        for el in proc.iter(f"{B}{tag}"):
            assert el.get("id") in drawn, el.get("id")
    assert drawn["Participant_1"].get("isHorizontal") == "true"
    for f in proc.findall("bpmn:sequenceFlow", NS):
        points = edges[f.get("id")].findall("di:waypoint", NS)
        assert len(points) >= 2
    # every flow node lies inside its lane's bounds
    def bounds(el_id: str) -> tuple[float, float, float, float]:
        b = drawn[el_id].find("dc:Bounds", NS)
        return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]

    for lane in proc.findall("bpmn:laneSet/bpmn:lane", NS):
        lx, ly, lw, lh = bounds(lane.get("id"))
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = bounds(ref.text)
            assert lx <= x and x + w <= lx + lw and ly <= y + h / 2 <= ly + lh, (lane.get("id"), ref.text)


def test_spiffworkflow_builds_a_process_spec_from_it(wf) -> None:  # type: ignore[no-untyped-def]
    from SpiffWorkflow.bpmn.parser import BpmnParser

    doc = etree.fromstring(bpmn_xml(wf).encode())
    # the export is a model, not an executable process; Spiff only builds executable ones
    doc.find("bpmn:process", NS).set("isExecutable", "true")
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(doc), filename="workflows.bpmn")
    spec = parser.get_spec("Process_dongaodi-grid")
    names = {t.bpmn_name for t in spec.task_specs.values()}
    assert {"网格处置中", "联席会协调中", "已结案"} <= names
