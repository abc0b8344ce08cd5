"""Tools that drive DVC around the stages: code fingerprints and the CI retrain."""
