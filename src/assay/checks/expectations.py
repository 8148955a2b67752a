"""A dataset's expectations file: ``<project>/checks/<dataset>.toml``, read and written.

One TOML table per expectation, named as people like, with ``check = "<kind>"`` and the
kind's parameters::

    [ground_truth-coverage]
    check = "coverage"
    layer = "ground_truth"
    min = 0.98

``tomllib`` gives no positions, so the file's lines are indexed separately (table headers and
``key =`` lines, which is all an expectations file holds): every error names the line of the
table or of the field at fault.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from pydantic import ValidationError

from assay.checks.base import CHECKS, Check, Context, Params
from assay.errors import DataFormatError

if TYPE_CHECKING:
    from assay.handle import DatasetHandle

FOLDER = "checks"
#: The longest file name made from a dataset name (file systems allow 255 bytes).
MAX_STEM = 200
_HEADER = re.compile(r"""^\s*\[\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*\]""")
_KEY = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_-]+))\s*=""")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Expectation:
    """One table of the file: its name, line, check kind and typed parameters."""

    name: str
    line: int
    check: Check
    params: Params

    @property
    def layer(self) -> str | None:
        return getattr(self.params, "layer", None)


def expectations_path(dataset: DatasetHandle) -> Path:
    """Where ``dataset``'s expectations live: ``<project>/checks/<dataset>.toml``, always
    inside ``checks/`` (:func:`file_stem`)."""
    return Path(dataset.project.root) / FOLDER / f"{file_stem(dataset.name)}.toml"


def file_stem(name: str) -> str:
    """A file name for a dataset name. Names may hold ``/``, ``..`` or characters a file
    system refuses, and must never reach outside ``checks/``: everything but letters,
    digits, ``-``, ``_`` and ``.`` is percent-encoded (a leading ``.`` too), and a name too
    long for a file system is cut and made unique by its hash. Plain names stay as they are
    (``digits`` -> ``digits``)."""
    stem = quote(name, safe="-_.")
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem.encode()) > MAX_STEM:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        stem = f"{stem[: MAX_STEM - 17]}-{digest}"
    return stem


class LineIndex:
    """The line of each table header and of each ``key =`` inside a table, 1-based."""

    def __init__(self, text: str) -> None:
        self.tables: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.top_level: dict[str, int] = {}
        current: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header and not line.lstrip().startswith("[["):
                current = next(g for g in header.groups() if g is not None)
                self.tables.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key:
                name = next(g for g in key.groups() if g is not None)
                if current is None:
                    self.top_level.setdefault(name, number)
                else:
                    self.keys.setdefault((current, name), number)

    def of(self, table: str, key: str | None = None) -> int:
        """The line of ``key`` in ``table`` (of the table's header when the key is absent)."""
        if key is not None and (table, key) in self.keys:
            return self.keys[(table, key)]
        return self.tables.get(table, 1)


def parse(text: str, path: Path, ctx: Context) -> list[Expectation]:
    """The expectations of ``text`` (the file at ``path``), checked against the dataset.

    Raises DataFormatError naming ``path`` and the line for: TOML that does not parse, a value
    outside a table, an unknown check, a parameter of a wrong type or unknown, a layer that
    does not exist or holds labels the check does not apply to.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(f"{path}: not valid TOML ({exc}).") from exc
    index = LineIndex(text)
    out = []
    for name, table in data.items():
        if not isinstance(table, dict):
            line = index.top_level.get(name, 1)
            raise DataFormatError(
                f"{path}, line {line}: {name!r} is outside any table; put each expectation "
                'in its own table, e.g. [my-check] with check = "coverage".'
            )
        out.append(_expectation(name, table, index, path, ctx))
    return out


def _expectation(
    name: str, table: dict[str, Any], index: LineIndex, path: Path, ctx: Context
) -> Expectation:
    def fail(key: str | None, message: str) -> DataFormatError:
        return DataFormatError(f"{path}, line {index.of(name, key)}: [{name}] {message}")

    kind = table.get("check")
    if not isinstance(kind, str):
        raise fail(None, 'needs check = "<kind>"; ' + _known())
    check = CHECKS.get(kind)
    if check is None:
        raise fail("check", f"unknown check {kind!r}; {_known()}")
    try:
        params = check.params_model.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else None
        what = error["msg"]
        if error["type"] == "extra_forbidden":
            fields = ", ".join(f for f in check.params_model.model_fields if f != "check")
            what = f"unknown parameter for check {kind!r}; its parameters are {fields}"
        elif error["type"] == "missing":
            what = f"missing (check {kind!r} needs it)"
        raise fail(key, f"{key}: {what}" if key else what) from None
    layer = getattr(params, "layer", None)
    if layer is not None:
        row = ctx.layers.get(layer)
        if row is None:
            known = ", ".join(sorted(ctx.layers)) or "none"
            raise fail("layer", f"layer: no layer {layer!r} in {ctx.dataset.name!r} ({known}).")
        if check.value_kinds is not None and row.value_kind not in check.value_kinds:
            raise fail(
                "layer",
                f"layer: {layer!r} holds {row.value_kind} labels; check {kind!r} is for "
                f"{', '.join(check.value_kinds)} layers.",
            )
    problem = check.validate(ctx, params)
    if problem is not None:
        raise fail(problem[0], f"{problem[0]}: {problem[1]}")
    return Expectation(name, index.of(name), check, params)


def _known() -> str:
    return "the checks are " + ", ".join(sorted(CHECKS)) + "."


# -- writing ---------------------------------------------------------------------------------


def render(dataset: str, tables: list[tuple[str, dict[str, Any]]]) -> str:
    """The TOML text of an expectations file (flat tables of simple values, so written here
    rather than with a TOML writer the project does not otherwise need)."""
    lines = [
        f"# Data checks of dataset {dataset!r}: inferred by `assay check --init` from the data",
        "# as it was; edit them. `assay check` runs them all (non-zero exit on a failure).",
        '# One table per expectation: check = "<kind>" and its parameters.',
    ]
    for name, params in tables:
        lines += ["", f"[{_key(name)}]"]
        note = params.pop("note", None)
        lines += [f"{_key(k)} = {_value(v)}" for k, v in params.items() if v is not None]
        if note:
            lines.append(f"note = {_value(note)}")
    return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    return name if _BARE.match(name) else orjson.dumps(name).decode()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value} in an expectations file")
        return repr(value)
    if isinstance(value, (int, str)):
        return orjson.dumps(value).decode() if isinstance(value, str) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} in an expectations file")
