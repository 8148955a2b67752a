"""No pickle or other code-executing format is loaded from user input.

Scans the source of ``assay`` for every call that can run code while loading data (pickle,
joblib, NumPy with pickles allowed, torch without ``weights_only``, unsafe YAML, eval/exec,
marshal, shelve, dill) and requires each one to be in ``ALLOWED`` with the reason it is safe.
A new such call fails this test until it is reviewed and listed. (That ``.npz`` predictions
holding object arrays are refused is tested in tests/models/test_external_predictions.py.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import assay

SOURCE = Path(assay.__file__).resolve().parent

# (file relative to src/assay, call) -> why it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    ("models/artifacts.py", "joblib.load"): (
        "loads only the model artifacts Assay itself wrote under the project's .assay folder "
        "(paths come from model_runs rows, never from a request or an import)"
    ),
    ("ingest/pool.py", "pickle.loads"): (
        "round-trips an exception the reader process itself just raised, to see whether it "
        "survives the pipe to the importing process (bytes it made a line before, never input)"
    ),
}

ALWAYS_UNSAFE = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "cPickle.loads",
    "joblib.load", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads",
    "marshal.load", "marshal.loads", "shelve.open", "pd.read_pickle", "pandas.read_pickle",
    "eval", "exec", "compile", "__import__", "yaml.unsafe_load", "yaml.full_load",
}  # fmt: skip


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return "?"


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(tree: ast.AST) -> list[tuple[str, int]]:
    """The code-loading calls in a module: (call, line)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        short = name.split(".", 1)[-1] if name.count(".") > 1 else name
        if name in ALWAYS_UNSAFE or short in ALWAYS_UNSAFE:
            found.append((name, node.lineno))
        elif name.endswith(("np.load", "numpy.load")):
            if not _is_const(_keyword(node, "allow_pickle"), False):
                found.append((f"{name} without allow_pickle=False", node.lineno))
        elif name == "torch.load":
            if not _is_const(_keyword(node, "weights_only"), True):
                found.append(("torch.load without weights_only=True", node.lineno))
        elif name == "yaml.load":
            loader = _keyword(node, "Loader")
            safe = loader is not None and _name(loader).endswith(("SafeLoader", "CSafeLoader"))
            if not safe:
                found.append(("yaml.load without SafeLoader", node.lineno))
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    bad = ast.parse(
        "import pickle, numpy as np, torch, yaml\n"
        "pickle.loads(b)\nnp.load(p)\nnp.load(p, allow_pickle=True)\ntorch.load(p)\n"
        "yaml.load(s)\neval('1')\nexec('x')\n"
        "np.load(p, allow_pickle=False)\ntorch.load(p, weights_only=True)\n"
        "yaml.load(s, Loader=yaml.SafeLoader)\nmodule.eval()\n"
    )
    assert [line for _, line in unsafe_calls(bad)] == [2, 3, 4, 5, 6, 7, 8]


def test_no_code_executing_loads_outside_the_allow_list() -> None:
    seen: set[tuple[str, str]] = set()
    unexpected = []
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 50
    for path in files:
        rel = path.relative_to(SOURCE).as_posix()
        for call, line in unsafe_calls(ast.parse(path.read_text(encoding="utf-8"))):
            if (rel, call) in ALLOWED:
                seen.add((rel, call))
            else:
                unexpected.append(f"{rel}:{line}: {call}")
    assert unexpected == [], "review these and add them to ALLOWED with a reason"
    assert seen == set(ALLOWED), f"stale allow-list entries: {set(ALLOWED) - seen}"
    assert all(len(reason) > 30 for reason in ALLOWED.values())


def test_artifacts_are_only_loaded_from_the_project_folder() -> None:
    """The one joblib.load: every caller passes a path built from the project root."""
    callers = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "artifacts.load(" in text:
            callers.append(path.relative_to(SOURCE).as_posix())
    assert callers, "artifacts.load is called somewhere (the models load their fitted state)"
    web = [c for c in callers if c.startswith("web/")]
    assert web == []  # no request handler loads an artifact by a path it was given
