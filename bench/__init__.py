"""casecraft benchmarks: ``python bench/run.py [--quick]`` (see bench/RESULTS.md)."""
