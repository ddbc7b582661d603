"""The peer for the escalation path: SpiffWorkflow (BPMN), its state saved to the same database per step.

The process is the escalation path of ``bench.throughput.PATH`` as a BPMN
process built in code: one user task per operator action, in sequence. Each
step is one transaction on the same database as the engine's: load the
workflow's serialized state, deserialize it, complete the ready user task with
the actor and note as task data, run the engine steps, serialize, save.
``BpmnWorkflowSerializer.serialize_json`` is SpiffWorkflow's documented way
to persist a workflow (it includes the spec, as by default).
"""

from __future__ import annotations

import time
from typing import Any

from bench.throughput import PATH

NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def bpmn_xml() -> bytes:
    steps = [f"s{i}_{trigger}" for i, (trigger, _, _) in enumerate(PATH)]
    ids = ["start", *steps, "end"]
    nodes = ['<bpmn:startEvent id="start"/>']
    nodes += [f'<bpmn:userTask id="{s}" name="{s}"/>' for s in steps]
    nodes += ['<bpmn:endEvent id="end"/>']
    flows = [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
             for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))]
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="defs" '
            f'targetNamespace="http://casecraft.example/bench"><bpmn:process id="escalation" isExecutable="true">'
            f'{"".join(nodes + flows)}</bpmn:process></bpmn:definitions>').encode()


def spiff_rate(url: str, n_cases: int) -> tuple[float, int]:
    """Run the path on ``n_cases`` workflows, one transaction per step; (steps/s, steps)."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState
    from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, insert, select, update

    from casecraft.store.db import ensure_schema, make_engine

    parser = BpmnParser()
    parser.add_bpmn_str(bpmn_xml(), "escalation.bpmn")
    spec = parser.get_spec("escalation")
    ser = BpmnWorkflowSerializer()
    meta = MetaData()
    table = Table("bench_spiff_workflows", meta, Column("id", Integer, primary_key=True), Column("state", Text))
    db = make_engine(url)  # the same settings (WAL, synchronous, …) as the engine's
    try:
        ensure_schema(db)
        meta.create_all(db)
        with db.begin() as conn:
            ids = []
            for _ in range(n_cases):
                wf = BpmnWorkflow(spec)
                wf.do_engine_steps()
                ids.append(conn.execute(insert(table).values(state=ser.serialize_json(wf))
                                        .returning(table.c.id)).scalar_one())
        load = select(table.c.state).where(table.c.id == bindparam("_id"))
        save = update(table).where(table.c.id == bindparam("_id"))
        steps = 0
        start = time.perf_counter()
        for wid in ids:
            for trigger, actor, kw in PATH:
                with db.begin() as conn:
                    wf = ser.deserialize_json(conn.execute(load, {"_id": wid}).scalar_one())
                    task = wf.get_tasks(state=TaskState.READY)[0]
                    task.data.update({"trigger": trigger, "actor": actor, **{k: _plain(v) for k, v in kw.items()}})
                    task.run()
                    wf.do_engine_steps()
                    conn.execute(save, {"_id": wid, "state": ser.serialize_json(wf)})
                steps += 1
            assert wf.is_completed()
        elapsed = time.perf_counter() - start
    finally:
        db.dispose()
    return steps / elapsed, steps


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
