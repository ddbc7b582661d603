"""BPMN 2.0 XML of a workflow, with diagram interchange so Camunda Modeler and bpmn.io draw it.

The mapping:

* one pool (participant) for the workflow, one **lane per tier** (top tier on top);
* the initial state is the **start event**, final states are **end events**, every other
  state is a **user task** in its tier's lane;
* a state with more than one way out is followed by an **exclusive gateway**; every
  transition is a **sequence flow** named by its trigger (conditions as
  ``conditionExpression``), so escalations are flows between lanes;
* a state's time limit is a **non-interrupting timer boundary event** on its task.
  ISO 8601 has no working time, so ``timeDuration`` holds the nominal length
  (``1 working day`` → ``P1D``) and the event's name and documentation the exact limit.

Coordinates: states are placed in columns by their distance from the initial state, in
their tier's lane; edges are orthogonal polylines. No dependency: the XML is built
with :mod:`xml.etree.ElementTree`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass

from casecraft.base.duration import Duration
from casecraft.workflows.diagram import PATH_EDGE, VISITED, Highlight, limit_label
from casecraft.workflows.shape import Transition
from casecraft.workflows.spec import Workflow

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "bioc": "http://bpmn.io/schema/bpmn/biocolor/1.0",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

TASK_W, TASK_H = 110, 70
GATE = 50
EVENT = 36
COL_W = 230
ROW_H = 110
LANE_HEAD = 30  # the lane's name band on the left
POOL_HEAD = 30
MARGIN_X = 60


def _t(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _nid(text: str) -> str:
    """An XML NCName from an identifier."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def iso_duration(text: str) -> str:
    """The nominal ISO 8601 length of a limit: '4 working hours' → 'PT4H', '1 working day' → 'P1D'."""
    d = Duration.parse(text)
    n = int(d.amount) if d.amount == int(d.amount) else d.amount
    if d.unit == "day":
        return f"P{n}D"
    return f"PT{n}{'H' if d.unit == 'hour' else 'M'}"


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def _columns(wf: Workflow) -> dict[str, int]:
    """Each state's distance (in transitions) from the initial state; unreachable ones go last."""
    out = {wf.initial: 0}
    queue = deque([wf.initial])
    while queue:
        s = queue.popleft()
        for tr in wf.transitions_from(s):
            if tr.dest not in out:
                out[tr.dest] = out[s] + 1
                queue.append(tr.dest)
    last = max(out.values(), default=0) + 1
    return {s: out.get(s, last) for s in wf.states}


def bpmn_xml(wf: Workflow, highlight: Highlight | None = None) -> str:
    """The workflow as a BPMN 2.0 definitions document (UTF-8 XML text)."""
    hl = highlight or Highlight()
    pid = _nid(f"Process_{wf.id}")
    defs = ET.Element(_t("bpmn", "definitions"), {
        "id": _nid(f"Definitions_{wf.id}"), "targetNamespace": "https://casecraft.invalid/bpmn",
        "exporter": "casecraft", "exporterVersion": "1", "typeLanguage": "http://www.w3.org/2001/XMLSchema",
        "expressionLanguage": "http://www.w3.org/1999/XPath"})
    collab = ET.SubElement(defs, _t("bpmn", "collaboration"), {"id": "Collaboration_1"})
    ET.SubElement(collab, _t("bpmn", "participant"), {"id": "Participant_1", "name": wf.name, "processRef": pid})
    proc = ET.SubElement(defs, _t("bpmn", "process"), {"id": pid, "name": wf.name, "isExecutable": "false"})
    lane_set = ET.SubElement(proc, _t("bpmn", "laneSet"), {"id": "LaneSet_1"})

    node_id: dict[str, str] = {}
    for s in wf.file.states:
        kind = "start" if s.id == wf.initial else ("end" if s.final else "task")
        node_id[s.id] = _nid({"start": "StartEvent_", "end": "EndEvent_", "task": "Task_"}[kind] + s.id)
    outgoing: dict[str, list[tuple[str, str, Transition]]] = {}
    for tr in wf.file.transitions:
        for src in tr.sources:
            if src in wf.states and tr.dest in wf.states:
                outgoing.setdefault(src, []).append((src, tr.dest, tr))
    gateways = {s: _nid(f"Gateway_{s}") for s, outs in outgoing.items() if len(outs) > 1}

    # flows: state → gateway (if any) → destination
    flows: list[tuple[str, str, str, str, str, bool]] = []  # id, source elem, target elem, name, cond, on path
    incoming: dict[str, list[str]] = {}
    out_of: dict[str, list[str]] = {}

    def add_flow(src: str, dst: str, name: str, cond: str, on_path: bool) -> None:
        fid = f"Flow_{len(flows) + 1}"
        flows.append((fid, src, dst, name, cond, on_path))
        out_of.setdefault(src, []).append(fid)
        incoming.setdefault(dst, []).append(fid)

    for sid, outs in outgoing.items():
        start = node_id[sid]
        if sid in gateways:
            add_flow(start, gateways[sid], "", "", any((sid, t2.trigger, d) in hl.edges for _, d, t2 in outs))
            start = gateways[sid]
        for _, d, t2 in outs:
            add_flow(start, node_id[d], wf.trigger_label(t2.trigger), _expression(t2, with_trigger=sid in gateways),
                     (sid, t2.trigger, d) in hl.edges)

    # layout ------------------------------------------------------------------------------
    cols = _columns(wf)
    tiers_top_down = [t.id for t in reversed(wf.file.tiers)]
    rows: dict[str, int] = {}
    used: dict[tuple[str, int], int] = {}
    for s in sorted(wf.file.states, key=lambda st: (cols[st.id], list(wf.states).index(st.id))):
        key = (s.tier, cols[s.id])
        rows[s.id] = used.get(key, 0)
        used[key] = rows[s.id] + 1
    lane_rows = {t: max([used.get((t, c), 0) for c in set(cols.values())] + [1]) for t in tiers_top_down}
    lane_y: dict[str, float] = {}
    y = 40.0
    for t in tiers_top_down:
        lane_y[t] = y
        y += lane_rows[t] * ROW_H
    pool_x, pool_y = 40.0, 40.0
    width = POOL_HEAD + LANE_HEAD + MARGIN_X + (max(cols.values()) + 1) * COL_W
    boxes: dict[str, _Box] = {}
    for s in wf.file.states:
        if s.tier not in lane_y:
            continue
        left = pool_x + POOL_HEAD + LANE_HEAD + MARGIN_X / 2 + cols[s.id] * COL_W
        mid = lane_y[s.tier] + rows[s.id] * ROW_H + ROW_H / 2
        if node_id[s.id].startswith("Task_"):
            boxes[node_id[s.id]] = _Box(left, mid - TASK_H / 2, TASK_W, TASK_H)
        else:
            boxes[node_id[s.id]] = _Box(left + (TASK_W - EVENT) / 2, mid - EVENT / 2, EVENT, EVENT)
        if s.id in gateways:
            boxes[gateways[s.id]] = _Box(left + TASK_W + 35, mid - GATE / 2, GATE, GATE)

    # semantic elements -------------------------------------------------------------------------
    lanes: dict[str, ET.Element] = {}
    for t in tiers_top_down:
        lanes[t] = ET.SubElement(lane_set, _t("bpmn", "lane"), {"id": _nid(f"Lane_{t}"), "name": wf.tier_labels[t]})

    def refs(elem: ET.Element, eid: str) -> None:
        for f in incoming.get(eid, []):
            ET.SubElement(elem, _t("bpmn", "incoming")).text = f
        for f in out_of.get(eid, []):
            ET.SubElement(elem, _t("bpmn", "outgoing")).text = f

    timers: list[tuple[str, str]] = []
    for s in wf.file.states:
        eid = node_id[s.id]
        tag = {"S": "startEvent", "E": "endEvent", "T": "userTask"}[eid[0]]
        elem = ET.SubElement(proc, _t("bpmn", tag), {"id": eid, "name": s.label})
        refs(elem, eid)
        if s.tier in lanes:
            ET.SubElement(lanes[s.tier], _t("bpmn", "flowNodeRef")).text = eid
        if s.id in gateways:
            gid = gateways[s.id]
            g = ET.SubElement(proc, _t("bpmn", "exclusiveGateway"), {"id": gid, "name": ""})
            refs(g, gid)
            if s.tier in lanes:
                ET.SubElement(lanes[s.tier], _t("bpmn", "flowNodeRef")).text = gid
        if s.limit and tag == "userTask":
            tid = _nid(f"Timer_{s.id}")
            timers.append((tid, eid))
            b = ET.SubElement(proc, _t("bpmn", "boundaryEvent"), {
                "id": tid, "name": f"时限 {limit_label(s.limit)}", "attachedToRef": eid, "cancelActivity": "false"})
            ET.SubElement(b, _t("bpmn", "documentation")).text = (
                f"{s.limit}; warning at {wf.file.workflow.warn_at:.0%} of it, overdue alert to the superior platform")
            ted = ET.SubElement(b, _t("bpmn", "timerEventDefinition"), {"id": f"{tid}_def"})
            ET.SubElement(ted, _t("bpmn", "timeDuration"), {_t("xsi", "type"): "bpmn:tFormalExpression"}).text = \
                iso_duration(s.limit)
            if s.tier in lanes:
                ET.SubElement(lanes[s.tier], _t("bpmn", "flowNodeRef")).text = tid
    for fid, src, dst, name, cond, _on in flows:
        f = ET.SubElement(proc, _t("bpmn", "sequenceFlow"), {"id": fid, "name": name, "sourceRef": src,
                                                            "targetRef": dst})
        if cond:
            expr = ET.SubElement(f, _t("bpmn", "conditionExpression"), {_t("xsi", "type"): "bpmn:tFormalExpression"})
            expr.text = cond

    # diagram interchange -------------------------------------------------------------------------
    diagram = ET.SubElement(defs, _t("bpmndi", "BPMNDiagram"), {"id": "BPMNDiagram_1", "name": wf.name})
    plane = ET.SubElement(diagram, _t("bpmndi", "BPMNPlane"), {"id": "BPMNPlane_1", "bpmnElement": "Collaboration_1"})

    def shape(element: str, box: _Box, extra: dict[str, str] | None = None) -> None:
        sh = ET.SubElement(plane, _t("bpmndi", "BPMNShape"), {"id": f"{element}_di", "bpmnElement": element,
                                                              **(extra or {})})
        ET.SubElement(sh, _t("dc", "Bounds"), {"x": _n(box.x), "y": _n(box.y), "width": _n(box.w),
                                               "height": _n(box.h)})

    shape("Participant_1", _Box(pool_x, pool_y, width, y - pool_y), {"isHorizontal": "true"})
    for t in tiers_top_down:
        shape(_nid(f"Lane_{t}"), _Box(pool_x + POOL_HEAD, lane_y[t], width - POOL_HEAD, lane_rows[t] * ROW_H),
              {"isHorizontal": "true"})
    state_of = {v: k for k, v in node_id.items()}
    for eid, box in boxes.items():
        extra: dict[str, str] = {}
        st = state_of.get(eid)
        if st is not None and st in hl.states:
            extra = {_t("bioc", "stroke"): PATH_EDGE, _t("bioc", "fill"): VISITED if st != hl.current else "#f97316"}
        shape(eid, box, extra)
    for tid, task in timers:
        tb = boxes.get(task)
        if tb is not None:
            shape(tid, _Box(tb.x + tb.w - EVENT / 2 - 8, tb.y + tb.h - EVENT / 2, EVENT, EVENT))
    for n, (fid, src, dst, _name, _cond, on_path) in enumerate(flows):
        box_a, box_b = boxes.get(src), boxes.get(dst)
        if box_a is None or box_b is None:
            continue
        extra = {_t("bioc", "stroke"): PATH_EDGE} if on_path else {}
        edge = ET.SubElement(plane, _t("bpmndi", "BPMNEdge"), {"id": f"{fid}_di", "bpmnElement": fid, **extra})
        for px, py in _route(box_a, box_b, n):
            ET.SubElement(edge, _t("di", "waypoint"), {"x": _n(px), "y": _n(py)})
    ET.indent(defs, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(defs, encoding="unicode") + "\n"


def _expression(tr: Transition, *, with_trigger: bool) -> str:
    """The flow's condition: the operator's trigger (after a gateway) and the transition's ``when``."""
    parts = [f"trigger == '{tr.trigger}'"] if with_trigger else []
    if tr.when is not None:
        parts += [f"{k} == '{v}'" for k, v in tr.when.given()]
    return " and ".join(parts)


def _route(a: _Box, b: _Box, n: int) -> list[tuple[float, float]]:
    """An orthogonal path from box a to box b: forward edges leave right and enter left; the others go around below."""
    if b.x >= a.x + a.w:
        mx = (a.x + a.w + b.x) / 2
        return [(a.x + a.w, a.cy), (mx, a.cy), (mx, b.cy), (b.x, b.cy)]
    below = max(a.y + a.h, b.y + b.h) + 12 + (n % 4) * 6
    return [(a.cx, a.y + a.h), (a.cx, below), (b.cx, below), (b.cx, b.y + b.h)]


def _n(v: float) -> str:
    return str(int(round(v)))


__all__ = ["bpmn_xml", "iso_duration"]
