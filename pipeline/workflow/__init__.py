"""Tools that drive DVC around the stages: code fingerprints, the CI retrain, and what retrain, tests and
benchmarks share (the child-process environment, `dvc repro` log parsing, project copies, a local
MLflow server)."""
