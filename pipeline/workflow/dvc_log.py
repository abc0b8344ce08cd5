"""What `dvc repro` printed: which stages it ran, restored from the run-cache, or found unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PATTERNS = {
    "ran": re.compile(r"^Running stage '(?P<stage>[^']+)'", re.MULTILINE),
    "cached": re.compile(r"^Stage '(?P<stage>[^']+)' is cached - skipping run", re.MULTILINE),
    "unchanged": re.compile(r"^Stage '(?P<stage>[^']+)' didn't change, skipping", re.MULTILINE),
}
OUTCOME_WORDS = {"ran": "ran", "cached": "restored from the run-cache", "unchanged": "unchanged"}


@dataclass
class Outcomes:
    """Which stages `dvc repro` ran, restored from the run-cache, or found unchanged."""

    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def extend(self, other: Outcomes) -> None:
        """Add a later `dvc repro`'s outcomes; a stage already recorded keeps its first outcome (the
        refresh runs `sources`, then the whole pipeline finds it unchanged)."""
        seen = {stage for kind in OUTCOME_WORDS for stage in getattr(self, kind)}
        for kind in OUTCOME_WORDS:
            getattr(self, kind).extend(stage for stage in getattr(other, kind) if stage not in seen)

    def lines(self) -> list[str]:
        return [
            f"{len(stages)} stage(s) {OUTCOME_WORDS[kind]}: {', '.join(stages) or '-'}"
            for kind in OUTCOME_WORDS
            for stages in [getattr(self, kind)]
        ]


def stage_outcomes(repro_log: str) -> Outcomes:
    """Parse `dvc repro` output: "Running stage 'x'" ran, "Stage 'x' is cached" came from the
    run-cache, "Stage 'x' didn't change" was unchanged."""
    found = {kind: [m["stage"] for m in pattern.finditer(repro_log)] for kind, pattern in PATTERNS.items()}
    return Outcomes(**found)


def executed_stages(repro_log: str) -> list[str]:
    """The stages a `dvc repro` ran (its "Running stage '<name>'" lines), in order."""
    return stage_outcomes(repro_log).ran
