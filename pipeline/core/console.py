"""How every command of the project reports: one log format, on stderr."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start_logging() -> None:
    """INFO and above to stderr in the project's format (a no-op when logging is already set up).
    urllib3's warning on each retry of a tracking call is left out: the stage reports the call's
    outcome once (tracking.runs)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
