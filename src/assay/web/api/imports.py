"""Imports from the web app: an admin uploads a file and a background job imports it.

``POST /datasets/{name}/imports`` takes ``multipart/form-data`` with the file in a field
``file`` (a ``.csv``/``.tsv``/``.parquet`` table, ``.jsonl``, an IDX ``.gz``, or a ``.zip``/
``.tar``/``.tar.gz``/``.tgz`` archive of these or of an image tree, or a lone COCO ``.json``
onto an existing dataset's images) and optional fields ``label_column``, ``key_column``,
``split`` and ``layer`` (the .json's). The dataset is created if it does not exist.

The body is parsed as it streams in and the file written straight to
``<project>/.assay/uploads/<random><suffix>`` with a running size check (at most
``max_upload_bytes``), so no upload is ever held in memory. The client's file name is used
for its suffix only (and shown, as text, in the job). The request returns 202 with an
``import`` job at once; the import itself, archive checks included, runs in a worker
(:mod:`assay.jobs`) and lands whole or not at all. The job deletes the upload when it ends.
"""

from __future__ import annotations

import os
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay import jobs
from assay.errors import DatasetNotFound, InvalidParameter
from assay.ingest import detect
from assay.jobs import kinds
from assay.store.naming import clean_name
from assay.web.auth import Admin
from assay.web.errors import HTTPError
from assay.web.state import AppState, app_state

router = APIRouter(tags=["imports"])

FILE_FIELD = "file"
FIELDS = ("label_column", "key_column", "split", "layer", "check")
MAX_FIELD_BYTES = 1000
MAX_PARTS = 10
# Uploads whose job never ran (cancelled while queued, a killed worker) are removed after:
STALE_UPLOAD_S = 2 * 24 * 3600
ALLOWED = detect.upload_kinds()

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {
                    FILE_FIELD: {"type": "string", "format": "binary"},
                    **{f: {"type": "string", "maxLength": MAX_FIELD_BYTES} for f in FIELDS},
                },
            }
        }
    },
}


class TooLarge(HTTPError):
    """The upload is bigger than ``max_upload_bytes``."""

    status = 413


@router.post(
    "/datasets/{name}/imports", status_code=202, openapi_extra={"requestBody": _UPLOAD_BODY}
)
async def upload(name: str, request: Request, who: Admin) -> dict[str, Any]:
    """Upload a file (multipart field ``file``) and queue a job importing it into the dataset,
    which is created if new. Poll ``GET /jobs/{id}`` for its progress; admins only."""
    state = app_state(request)
    dataset = clean_name(name, "dataset name")
    folder = await run_in_threadpool(kinds.uploads_dir, state.project.root)
    await run_in_threadpool(_sweep, state, folder)
    received = _Upload(folder, state.settings.max_upload_bytes)
    try:
        await _receive(request, received)
        path, filename = received.result()
        if path.suffix == ".json":  # boxes onto a dataset's images: refused now, not later
            fields = received.fields
            await run_in_threadpool(
                kinds.lone_coco_json, state.project, dataset, fields.get("layer"), filename
            )
        existing = await run_in_threadpool(_dataset_id, state, dataset)
        params = {"upload": path.name, "filename": filename, "dataset": dataset}
        params.update({k: v for k, v in received.fields.items() if v})
        job = await run_in_threadpool(
            lambda: jobs.submit_on_project(
                state.project, "import", params, by=who.user.username, dataset_id=existing,
                launcher=state.jobs,
            )
        )  # fmt: skip
    except BaseException:
        received.discard()
        raise
    return {"ok": True, "job": job}


def _dataset_id(state: AppState, name: str) -> int | None:
    try:
        return state.project.dataset(name).id
    except DatasetNotFound:
        return None


async def _receive(request: Request, upload: _Upload) -> None:
    """Feed the request body to the parser as it arrives."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidParameter(
            f"Send the file as multipart/form-data, in a field named {FILE_FIELD!r}."
        )
    parser = MultipartParser(boundary, upload.callbacks())
    stream = request.stream()
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        first = b""
    except RuntimeError:  # the CSRF check already read the body as a form (csrf_token field)
        await _from_form(request, upload)
        return
    try:
        await run_in_threadpool(parser.write, first)
        async for chunk in stream:
            if chunk:
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidParameter(
            f"The multipart body is malformed ({exc}); send the file as multipart/form-data."
        ) from None


async def _from_form(request: Request, upload: _Upload) -> None:
    """The same from a form Starlette has parsed already (copied in chunks)."""
    form = await request.form()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            await run_in_threadpool(upload.begin_file, key, value.filename or "")
            while chunk := await value.read(1 << 20):
                await run_in_threadpool(upload.file_data, chunk)
            upload.end_part()
        elif key != "csrf_token":
            upload.begin_field(key)
            upload.field_data(value.encode())
            upload.end_part()


class _Upload:
    """Collects one multipart body: the file goes to disk as it arrives, fields to memory
    (a few short strings). Every limit is checked as bytes come in."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.path: Path | None = None
        self.filename = ""
        self.size = 0
        self.parts = 0
        self._file: Any = None
        self._field: str | None = None
        self._value = bytearray()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}

    # -- python-multipart's callbacks -----------------------------------------------------

    def callbacks(self) -> Any:
        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._header_name += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def on_header_end() -> None:
            self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
            self._header_name.clear()
            self._header_value.clear()

        def on_headers_finished() -> None:
            disposition = self._headers.get("content-disposition", b"")
            self._headers = {}
            _, options = parse_options_header(disposition)
            field = options.get(b"name", b"").decode("utf-8", "replace")
            if b"filename" in options:
                self.begin_file(field, options[b"filename"].decode("utf-8", "replace"))
            else:
                self.begin_field(field)

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if self._file is not None:
                self.file_data(data[start:end])
            else:
                self.field_data(data[start:end])

        return {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": self.end_part,
        }

    # -- parts ----------------------------------------------------------------------------

    def _count_part(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidParameter(f"Too many form fields: at most {MAX_PARTS}.")

    def begin_file(self, field: str, client_name: str) -> None:
        self._count_part()
        if field != FILE_FIELD:
            raise InvalidParameter(f"Send the file in the field {FILE_FIELD!r}, not {field!r}.")
        if self.path is not None:
            raise InvalidParameter("Send one file per upload.")
        self.filename = display_name(client_name)
        suffix = detect.upload_suffix(self.filename)
        if suffix is None:
            raise InvalidParameter(
                f"{self.filename or 'The file'}: Assay imports {ALLOWED} files; "
                "put images (in class folders) into a .zip."
            )
        self.path = self.folder / f"{uuid.uuid4().hex}{suffix}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        self._file = os.fdopen(os.open(self.path, flags, 0o600), "wb")

    def file_data(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge(f"The file is too large: at most {self.max_bytes:,} bytes.")
        self._file.write(data)

    def begin_field(self, field: str) -> None:
        self._count_part()
        if field not in FIELDS:
            raise InvalidParameter(
                f"Unknown form field {field[:50]!r}: send {FILE_FIELD}, {', '.join(FIELDS)}."
            )
        self._field = field
        self._value.clear()

    def field_data(self, data: bytes) -> None:
        self._value += data
        if len(self._value) > MAX_FIELD_BYTES:
            raise InvalidParameter(f"Form field {self._field!r}: at most {MAX_FIELD_BYTES} bytes.")

    def end_part(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._field is not None:
            try:
                self.fields[self._field] = self._value.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise InvalidParameter(f"Form field {self._field!r} is not UTF-8 text.") from None
            self._field = None

    # -- the end --------------------------------------------------------------------------

    def result(self) -> tuple[Path, str]:
        """The stored file and the client's (display) name for it."""
        if self.path is None or self._file is not None:
            raise InvalidParameter(f"No file: send it in a multipart field named {FILE_FIELD!r}.")
        if self.size == 0:
            raise InvalidParameter(f"{self.filename}: the file is empty.")
        return self.path, self.filename

    def discard(self) -> None:
        """Remove what was written (the request failed)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def display_name(client_name: str) -> str:
    """The client's file name, as text to show: its last path part, without control
    characters, at most 255 characters. Never used to name a file on the server."""
    base = client_name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    return base.strip()[:255]


def _sweep(state: AppState, folder: Path) -> None:
    """Remove old uploads no queued or running job will read (their job was cancelled before
    it ran, or its worker was killed)."""
    cutoff = time.time() - STALE_UPLOAD_S
    old = [p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
    if not old:
        return
    waiting = {str(p.get("upload")) for p in jobs.active_params(state.project.store, "import")}
    for path in old:
        if path.name not in waiting:
            path.unlink(missing_ok=True)
