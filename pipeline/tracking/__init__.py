"""MLflow, and only here: runs of the stages, the model registry, links into the UI."""
