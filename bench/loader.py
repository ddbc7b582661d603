"""How long loading a workflow takes: ``load_workflow`` on the default workflows.yaml (+ organisation.yaml).

    python bench/loader.py              # best and median of 20 loads
    python bench/loader.py --repeat 50
    python bench/loader.py --pure       # as without ruamel.yaml.clib: the pure parser only

Prints the figures; it asserts nothing (a timing is not a test). Also times the refusal of
deeply nested documents, which must be refused before the YAML parser recurses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from casecraft.base.errors import WorkflowError  # noqa: E402
from casecraft.workflows.loader import load_workflow  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def refused(path: Path) -> Callable[[], None]:
    def run() -> None:
        try:
            load_workflow(path)
        except WorkflowError:
            return
        raise SystemExit(f"{path} was accepted")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pure", action="store_true", help="do not use libyaml (ruamel.yaml.clib)")
    args = parser.parse_args()
    if args.pure:
        from casecraft.workflows import yamlio

        yamlio._c_parser = lambda: None  # type: ignore[attr-defined]
    wf = ROOT / "workflows.yaml"
    t0 = time.perf_counter()
    load_workflow(wf)  # first call: imports (ruamel, pydantic models, zoneinfo) and caches
    first = time.perf_counter() - t0
    best, median = timed(lambda: load_workflow(wf), args.repeat)
    print(f"load_workflow(workflows.yaml + organisation.yaml): first {first * 1000:.1f} ms, "
          f"then best {best * 1000:.1f} ms, median {median * 1000:.1f} ms ({args.repeat} runs)")
    with tempfile.TemporaryDirectory() as tmp:
        deep_flow = Path(tmp) / "deep_flow.yaml"
        deep_flow.write_text("workflow: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
        deep_block = Path(tmp) / "deep_block.yaml"
        deep_block.write_text("".join(" " * i + "- \n" for i in range(0, 1000)) + " " * 1000 + "x\n",
                              encoding="utf-8")
        for label, path in (("flow [ x5000", deep_flow), ("block - x1000", deep_block),
                            ("corpus deep_block_nesting.yaml", ROOT / "tests/data/bad/yaml/deep_block_nesting.yaml"),
                            ("corpus deep_flow_nesting.yaml", ROOT / "tests/data/bad/yaml/deep_flow_nesting.yaml")):
            best, median = timed(refused(path), 3)
            print(f"refuse {label} ({path.stat().st_size} bytes): best {best * 1000:.1f} ms, "
                  f"median {median * 1000:.1f} ms")


if __name__ == "__main__":
    main()
