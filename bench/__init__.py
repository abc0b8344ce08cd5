"""Benchmarks of the pipeline: accuracy, overhead, incremental runs, throughput, MLflow cost.

Each module is a script (`python -m bench.<name> [--quick]`); `python -m bench.run_all` runs them all
and writes bench/RESULTS.md. They live outside tests/: nothing here is a pass/fail test.
"""
