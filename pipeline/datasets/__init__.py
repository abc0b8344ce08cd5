"""Data sets: a catalogue in params.yaml (`datasets:`), each entry of one source kind.

`sources.fetch_raw` is the `download` stage's work, `preprocess.preprocess` the `preprocess`
stage's, and `processed` the contract every model stage reads.
"""
