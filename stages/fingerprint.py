"""DVC stage `fingerprint`: check the whole params file, then write per stage the sha256 of each project
module it can import (fingerprints/).

Every other stage depends on its file here instead of listing its modules: an edit re-runs exactly
the stages that import the edited module. This stage also depends on params.yaml and comes first, so
a bad value stops `dvc repro` before DVC deletes any stage's outputs; its own outputs are `persist`
(DVC keeps them when it fails) and stay byte-identical for any valid params.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pipeline.core import paths
from pipeline.models import params_check
from pipeline.workflow import fingerprints
from stages import cli

log = logging.getLogger("stages.fingerprint")
BUILT_FILE = "keras-models-built.txt"  # which Keras models of the params built, by their settings' hash


def built_record() -> Path:
    """Where the Keras models that built are remembered: in the workspace DVC names (DVC_ROOT), so the
    copies queued and `--temp` experiments run in, which have no checkpoints/, share it."""
    return Path(os.environ.get("DVC_ROOT", ".")) / paths.CHECKPOINTS_DIR / BUILT_FILE


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("stages", nargs="+", help="stage entry points (stages/<name>.py) to fingerprint")
    args = parser.parse_args(argv)
    texts = fingerprints.texts(args.stages)
    params_check.check(args.params, built_record(), texts.get("train-keras", ""))
    names = fingerprints.save(paths.FINGERPRINTS_DIR, texts)
    log.info("params valid; wrote %s", ", ".join(f"{paths.FINGERPRINTS_DIR}/{name}.txt" for name in names))


if __name__ == "__main__":
    cli.run(main)
