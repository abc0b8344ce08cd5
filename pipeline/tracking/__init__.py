"""MLflow, and only here (a test checks): the store, a stage's run and what it logs, registry, UI links."""
