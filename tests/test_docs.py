"""README.md and docs/*.md: every relative link reaches a file (and heading), every command block names
real Makefile targets and importable modules."""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+([A-Za-z][\w.-]*)", re.MULTILINE)
PYTHON_M = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@cache
def tokens(page: Path) -> list:
    """The page's block tokens, inline children flattened after their parent."""
    flat = []
    for token in MarkdownIt("commonmark", {"linkify": False}).enable("table").parse(page.read_text()):
        flat += [token, *(token.children or [])]
    return flat


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    for opening, inline in pairwise(tokens(page)):
        if opening.type == "heading_open":
            base = slug("".join(child.content for child in inline.children))
            found.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return found


def links(page: Path) -> list[str]:
    return [t.attrs["href"] for t in tokens(page) if t.type == "link_open"]


def command_blocks(page: Path) -> list[str]:
    """Indented blocks and fences marked as shell (or not marked): not yaml, not text."""
    return [
        t.content
        for t in tokens(page)
        if t.type == "code_block" or (t.type == "fence" and t.info.strip() in SHELL_FENCES)
    ]


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_docs_pages_exist():
    topics = "README datasets models tracking sweeps ci-retraining performance failure-modes architecture"
    assert {page.stem for page in PAGES} >= set(topics.split())


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_relative_link_reaches_a_file_and_heading(page):
    broken = []
    for href in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", href):  # https:, mailto:
            continue
        path, _, anchor = href.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{href}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{href}: no heading #{anchor} in {name(target)}")
    assert not broken, f"{name(page)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_make_target_and_python_module_in_a_command_block_exists(page):
    blocks = "\n".join(command_blocks(page))
    unknown_targets = set(MAKE.findall(blocks)) - makefile_targets()
    missing_modules = {m for m in PYTHON_M.findall(blocks) if importlib.util.find_spec(m) is None}
    assert not unknown_targets, f"{name(page)}: no Makefile target {sorted(unknown_targets)}"
    assert not missing_modules, f"{name(page)}: no module {sorted(missing_modules)}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = {(ROOT / href.partition("#")[0]).resolve() for href in links(ROOT / "README.md")}
    assert not [name(page) for page in PAGES[1:] if page not in readme]


def test_every_docs_page_starts_with_what_it_is_for():
    for page in PAGES[1:]:
        paragraphs = page.read_text().split("\n\n")
        assert paragraphs[0].startswith("# ") and paragraphs[1].startswith("What for: "), name(page)


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 170
