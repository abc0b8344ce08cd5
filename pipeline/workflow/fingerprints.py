"""Which project modules a stage can import, read from the source, and their hashes as one fingerprint.

A stage depends on its fingerprint file, not on a hand-written list of modules: it re-runs exactly
when a module it can import changes, and the list cannot drift from the imports. Imports inside
functions count, and so do `importlib.import_module` calls (a constant name, or any module of the
package whose `__init__` imports its modules by a computed name); `if TYPE_CHECKING:` blocks never
run and do not. Modules holding only a docstring are left out: no edit of one changes outputs.

An entry point that reaches a model backend gets one fingerprint per backend, leaving out the other
backends' code where it is imported inside a function (shared modules import a backend only in the
function that serves its models); an import of it at a module's top level is still followed.

Library versions count too: a fingerprint ends with the uv.lock version of every third-party
distribution its modules import (import name -> distribution by importlib.metadata) and of those
distributions' own dependencies in uv.lock, so a bump of scikit-learn re-runs the stages that import
it and only those (and a bump of keras under tensorflow counts for the stages importing tensorflow).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import pkgutil
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pipeline.core import storage
from pipeline.core.errors import PipelineError

ROOT = Path(__file__).absolute().parents[2]
PACKAGES = ("pipeline", "stages")
IMPORT_BY_NAME = ("importlib.import_module", "import_module", "__import__")
NOT_ENTRY_POINTS = ("__init__", "cli")
LOCK_FILE = "uv.lock"


def normalized(distribution: str) -> str:
    """A distribution's name as uv.lock spells it (PEP 503): `PyYAML` -> `pyyaml`."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


class Lock:
    """The distributions of uv.lock: their versions and the dependencies each one lists."""

    def __init__(self, path: Path) -> None:
        try:
            packages = tomllib.loads(path.read_text()).get("package", [])
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise PipelineError(
                f"cannot read {path} ({err}): restore it with `git checkout {path.name}`"
            ) from None
        self.versions: dict[str, set[str]] = {}
        self.dependencies: dict[str, set[str]] = {}
        for package in packages:
            name = normalized(package["name"])
            if "version" in package:
                self.versions.setdefault(name, set()).add(package["version"])
            self.dependencies.setdefault(name, set()).update(
                normalized(dependency["name"]) for dependency in package.get("dependencies", [])
            )

    def closure(self, distributions: Iterable[str]) -> set[str]:
        """`distributions` and everything they depend on, transitively, as uv.lock records it."""
        seen: set[str] = set()
        todo = [normalized(name) for name in distributions]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.dependencies.get(name, ()))
        return seen

    def pinned(self, distributions: Iterable[str]) -> str:
        """`version  name` of each locked distribution of the closure of `distributions`, sorted by name
        (several versions of one, for different Pythons, on one line)."""
        return "".join(
            f"{','.join(sorted(self.versions[name]))}  {name}\n"
            for name in sorted(self.closure(distributions))
            if name in self.versions
        )


@functools.cache
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # reads every installed distribution: once


def distributions_of(import_names: Iterable[str]) -> set[str]:
    """The installed distributions providing top-level import names (`sklearn` -> scikit-learn)."""
    providers = _providers()
    return {normalized(dist) for name in import_names for dist in providers.get(name, ())}


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _inside(tree: ast.Module, select) -> set[int]:
    """ids of the nodes in the bodies of the nodes `select` picks."""
    return {
        id(child)
        for node in ast.walk(tree)
        if select(node)
        for statement in node.body
        for child in ast.walk(statement)
    }


class ImportGraph:
    """The project's modules under `root` and what each imports, parsed once per file."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self._trees: dict[Path, ast.Module] = {}
        self._names: dict[Path, frozenset[tuple[str, bool]]] = {}
        self._libraries: dict[Path, frozenset[str]] = {}

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _tree(self, path: Path) -> ast.Module:
        if path not in self._trees:
            try:
                self._trees[path] = ast.parse(path.read_bytes(), filename=str(path))
            except SyntaxError as err:
                raise PipelineError(
                    f"{self.relative(path)}, line {err.lineno}: {err.msg}; fix it: no stage can import it"
                ) from None
            except (ValueError, OSError) as err:
                raise PipelineError(
                    f"cannot read {self.relative(path)} as Python source ({err}): fix it"
                ) from None
        return self._trees[path]

    def module_path(self, name: str) -> Path | None:
        """The file of project module `name`, or None when it is not one (a class, a function)."""
        base = self.root.joinpath(*name.split("."))
        for path in (base / "__init__.py", base.with_suffix(".py")):
            if path.is_file():
                return path
        return None

    def imported_names(self, path: Path) -> frozenset[tuple[str, bool]]:
        """(dotted name, imported inside a function?) of the project modules and members `path` imports."""
        if path not in self._names:
            self._names[path] = self._read_imports(path)
        return self._names[path]

    def libraries(self, path: Path) -> frozenset[str]:
        """Top-level names of the third-party modules `path` imports (neither the project's nor the
        standard library's), wherever in the module."""
        if path not in self._libraries:
            self._read_imports(path)
        return self._libraries[path]

    def _read_imports(self, path: Path) -> frozenset[tuple[str, bool]]:
        tree = self._tree(path)
        never_run = _inside(tree, lambda node: isinstance(node, ast.If) and _is_type_checking(node.test))
        in_function = _inside(tree, lambda node: isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
        package = path.parent.relative_to(self.root).parts
        found, libraries = set(), set()
        for node in ast.walk(tree):
            if id(node) in never_run:
                continue
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                parts = list(package[: len(package) - node.level + 1]) if node.level else []
                base = ".".join([*parts, *([node.module] if node.module else [])])
                names = {base, *(f"{base}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in IMPORT_BY_NAME:
                names = self._imported_by_name(path, node)
            else:
                continue
            found.update((name, id(node) in in_function) for name in names if name.split(".")[0] in PACKAGES)
            if not getattr(node, "level", 0):
                libraries.update(
                    top
                    for top in (name.split(".")[0] for name in names)
                    if top and top not in PACKAGES and top not in sys.stdlib_module_names
                )
        self._libraries[path] = frozenset(libraries)
        return frozenset(found)

    def _imported_by_name(self, path: Path, call: ast.Call) -> set[str]:
        """The module an `import_module` call loads: its constant name, or, in a package `__init__`
        that imports its own modules by a computed name, any of them."""
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return {first.value}
        if path.name != "__init__.py":
            raise PipelineError(
                f"{self.relative(path)}, line {call.lineno}: imports a module by a computed name, so no one "
                "can tell which: do it only in a package's __init__.py (which may load any module of it)"
            )
        package = ".".join(path.parent.relative_to(self.root).parts)
        return {f"{package}.{module.name}" for module in pkgutil.iter_modules([str(path.parent)])}

    def imported_files(self, entry: str, skip: tuple[str, ...] = ()) -> set[str]:
        """Files (relative to the root) of every project module `entry` can import, with its packages.

        Imports of `skip` packages inside functions are not followed (the other backends' code, which
        only their items reach); an import of them at a module's top level still is.
        """
        seen: set[Path] = set()
        todo = [(entry, False)]
        while todo:
            name, in_function = todo.pop()
            if in_function and any(name == p or name.startswith(f"{p}.") for p in skip):
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                path = self.module_path(".".join(parts[:depth]))
                if path and path not in seen:
                    seen.add(path)
                    todo.extend(self.imported_names(path))
        return {self.relative(path) for path in seen if self.matters(path)}

    def matters(self, path: Path) -> bool:
        """Whether an edit of `path` can change a stage's outputs: all but docstring-only modules."""
        body = self._tree(path).body
        return not all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)

    def backends(self) -> list[str]:
        """The model backends: the `pipeline/backends/<name>` packages."""
        return sorted(path.parent.name for path in self.root.glob("pipeline/backends/*/__init__.py"))

    def entry_points(self) -> list[str]:
        """The stages: `stages/<name>.py` modules but the shared ones."""
        stages = (path.stem for path in (self.root / "stages").glob("*.py"))
        return sorted(stage for stage in stages if stage not in NOT_ENTRY_POINTS)

    def stage_modules(self, stage: str) -> dict[str, set[str]]:
        """{fingerprint name: module files} of `python -m stages.<stage>`: `<stage>`, or
        `<stage>-<backend>` per backend when it reaches one."""
        if stage not in self.entry_points():
            raise PipelineError(f"no stage entry point stages/{stage}.py: name one of {self.entry_points()}")
        entry = f"stages.{stage}"
        backends = self.backends()
        reached = self.imported_files(entry)
        if not any(
            file.startswith(f"pipeline/backends/{backend}/") for backend in backends for file in reached
        ):
            return {stage: reached}
        return {
            f"{stage}-{backend}": self.imported_files(
                entry, tuple(f"pipeline.backends.{other}" for other in backends if other != backend)
            )
            for backend in backends
        }

    def stage_files(self, stages: list[str]) -> dict[str, set[str]]:
        """{fingerprint name: module files} of every stage of `stages`."""
        return {name: files for stage in stages for name, files in self.stage_modules(stage).items()}

    def fingerprint(self, files: set[str], lock: Lock) -> str:
        """`sha256  path` of each file, sorted by path (the format of `sha256sum`), then `version  name`
        of every locked distribution the files import, with its dependencies."""
        modules = "".join(f"{storage.sha256_file(self.root / file)}  {file}\n" for file in sorted(files))
        imported = {library for file in files for library in self.libraries(self.root / file)}
        return modules + lock.pinned(distributions_of(imported))


def texts(stages: list[str], root: Path = ROOT) -> dict[str, str]:
    """{fingerprint name: its text} for every fingerprint of `stages`; versions from `root`/uv.lock."""
    graph, lock = ImportGraph(root), Lock(root / LOCK_FILE)
    return {name: graph.fingerprint(files, lock) for name, files in graph.stage_files(stages).items()}


def save(folder: Path, texts_by_name: dict[str, str]) -> list[str]:
    """Write `<folder>/<name>.txt` for every fingerprint, the folder whole; the names."""
    with storage.atomic_dir(folder) as tmp:
        for name, text in texts_by_name.items():
            (tmp / f"{name}.txt").write_text(text)
    return sorted(texts_by_name)


def write(folder: Path, stages: list[str], root: Path = ROOT) -> list[str]:
    """Write every fingerprint of `stages` into `folder` (see `save`); the names."""
    return save(folder, texts(stages, root))
