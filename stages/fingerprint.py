"""DVC stage `fingerprint`: per stage, the sha256 of each project module it can import (fingerprints/).

Every other stage depends on its file here instead of listing its modules: an edit re-runs exactly
the stages that import the edited module.
"""

from __future__ import annotations

import argparse
import logging

from pipeline import fingerprints
from stages import cli

log = logging.getLogger("stages.fingerprint")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stages", nargs="+", help="stage entry points (stages/<name>.py) to fingerprint")
    args = parser.parse_args(argv)
    names = fingerprints.write(cli.FINGERPRINTS_DIR, args.stages)
    log.info("wrote %s", ", ".join(f"{cli.FINGERPRINTS_DIR}/{name}.txt" for name in names))


if __name__ == "__main__":
    cli.run(main)
