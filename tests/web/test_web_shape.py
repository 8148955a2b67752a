"""The shape of the faces, read from their source (no import, no server): ``web/`` and ``cli/``
hold no SQL, only the app factory knows the app module, and ``web/``'s modules import one
another without a cycle and downward only (infrastructure, then ``views/``, then ``pages/``
and ``api/``, then the app).

Every import counts: at module level (``TYPE_CHECKING`` blocks included) and inside
functions, since a function-level import is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FACES = ("assay/web", "assay/cli")
APP_MODULE = "assay.web.app"
MAY_IMPORT_APP = {"assay.web", "assay.web.factory"}


def _modules(folder: str) -> dict[str, Path]:
    """Module name -> file, for every Python file under ``src/<folder>``."""
    out = {}
    for path in sorted((SRC / folder).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line) of every import in the file, relative ones resolved; for
    ``from package import name`` the submodule when ``name`` is one."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in known else base), node.lineno


def _execute_calls(path: Path) -> Iterator[int]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
        ):
            yield node.lineno


FACE_MODULES = {name: path for folder in FACES for name, path in _modules(folder).items()}
WEB = _modules("assay/web")


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC)}:{line}"


def test_the_faces_hold_no_sql() -> None:
    """No SQLAlchemy, no table definitions, no ``.execute(`` in web/ or cli/: a read they need
    is a library function."""
    found = []
    known = set(FACE_MODULES)
    for name, path in FACE_MODULES.items():
        for module, line in _imports(name, path, known):
            if module == "sqlalchemy" or module.startswith("sqlalchemy."):
                found.append(f"{_where(path, line)} imports {module}")
            if module == "assay.store.schema":
                found.append(f"{_where(path, line)} imports the store's tables")
        found += [f"{_where(path, line)} calls .execute(" for line in _execute_calls(path)]
    assert not found, "SQL in the faces:\n" + "\n".join(found)


def test_only_the_factory_imports_the_app_module() -> None:
    """The app module assembles the app; state and settings live in ``web/state.py``, so no
    route, page or view depends on the app that includes it."""
    found = [
        _where(path, line)
        for name, path in WEB.items()
        if name not in MAY_IMPORT_APP
        for module, line in _imports(name, path, set(WEB))
        if module == APP_MODULE
    ]
    assert not found, f"{APP_MODULE} imported by: {', '.join(found)}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules in order, the first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def web_import_graph() -> dict[str, set[str]]:
    """Module -> the ``assay.web`` modules it imports (anywhere in the file)."""
    known = set(WEB)
    return {
        name: {m for m, _ in _imports(name, path, known) if m in known and m != name}
        for name, path in WEB.items()
    }


def test_web_modules_import_one_another_without_a_cycle() -> None:
    """Infrastructure (state, auth, errors, rendering) below the views, the views below the
    routes and pages, and the app above them all: no module depends on itself."""
    cycle = _cycle(web_import_graph())
    assert cycle is None, "import cycle in web/: " + " -> ".join(cycle or [])


def _layer(module: str) -> int:
    """0: infrastructure (state, auth, errors, rendering...), 1: views, 2: pages and API
    routes, 3: the app that assembles them."""
    if module in MAY_IMPORT_APP or module == APP_MODULE:
        return 3
    part = module.split(".")[2] if module.count(".") >= 2 else ""
    return {"views": 1, "pages": 2, "api": 2}.get(part, 0)


def test_web_layers_import_downward() -> None:
    """Infrastructure imports no view, page or route; views no page or route; pages and API
    routes not each other (both ask ``views/``)."""
    found = []
    for module, deps in web_import_graph().items():
        for dep in deps:
            up = _layer(dep) > _layer(module)
            same = _layer(module) == _layer(dep) == 2
            sideways = same and dep.split(".")[2] != module.split(".")[2]
            if up or sideways:
                found.append(f"{module} -> {dep}")
    assert not found, "imports against the layers of web/:\n" + "\n".join(sorted(found))


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"a"}}, ["a", "a"]),
    ],
)
def test_the_cycle_finder(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert _cycle(graph) == expected
