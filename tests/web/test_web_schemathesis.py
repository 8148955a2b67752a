"""schemathesis against the API's own OpenAPI schema, signed in as an admin (API token).

Every operation gets at most ``MAX_EXAMPLES`` generated requests that follow the schema
(on the ``digits`` dataset where the path names one, so the requests reach real data) and
``MAX_NEGATIVE`` that break it, derandomized (the same requests every run). Every response
must be no 5xx and match the schema: documented status code, content type, headers, body.
Operations that end the caller's own access (logout, token revocation, user changes) run last.
SQLite only (the other web tests cover PostgreSQL); jobs are queued but never run
(``max_jobs=0``: no worker process starts). The whole run stays under ``TIME_BUDGET_S``.

Uses schemathesis' Python API (``openapi.from_asgi``, ``APIOperation.as_strategy``,
``Case.call_and_validate``) with Hypothesis directly, not its pytest plugin.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

import assay
from assay import users
from assay.web import create_app

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode, checks  # noqa: E402


def negative_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' check, with 413 as a rejection too: a schema-invalid body over
    ``max_body_bytes`` (thousands of generated boxes) is refused before it is read."""
    if response.status_code == 413:
        return None
    return checks.negative_data_rejection(ctx, response, case)


# No 5xx; status code, content type, headers and body as documented; schema-invalid requests
# refused with a 4xx. (Not "positive data acceptance": a request can be schema-valid and still
# wrong, a filter that does not parse or a layer that does not exist, and get its 422/404.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    negative_data_rejection,
]

MAX_EXAMPLES = 25
MAX_NEGATIVE = 8
TIME_BUDGET_S = 170.0
DESTRUCTIVE = {
    ("POST", "/api/v1/logout"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("PATCH", "/api/v1/users/{username}"),
}


def _schema(template: Path, tmp_path: Path) -> tuple[Any, dict[str, str]]:
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copyfile(template, root / "assay.db")
    project = assay.init(root)
    token, _ = users.create_token(project.store, "admin", "schemathesis")
    app = create_app(project, owns_project=True, max_jobs=0)
    headers = {"Authorization": f"Bearer {token}"}
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=headers), headers


def _run(operation: Any, headers: dict[str, str], mode: Any, examples: int) -> int:
    """Run the generated requests of one operation; returns how many were sent."""
    fixed = {"name": "digits"} if "{name}" in operation.path else None

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def check(case: Any) -> None:
        sent.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    sent: list[int] = []
    check()
    return len(sent)


def test_api_conforms_to_its_schema(_sqlite_template: Path, tmp_path: Path) -> None:
    schema, headers = _schema(_sqlite_template, tmp_path)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    # Destructive ones last, so they cannot take the token away from the others.
    operations.sort(key=lambda op: (op.method.upper(), op.path) in DESTRUCTIVE)
    started = time.monotonic()
    failures: list[str] = []
    done = requests = 0
    for operation in operations:
        if time.monotonic() - started > TIME_BUDGET_S:
            break
        for mode, examples in (
            (GenerationMode.POSITIVE, MAX_EXAMPLES),
            (GenerationMode.NEGATIVE, MAX_NEGATIVE),
        ):
            try:
                requests += _run(operation, headers, mode, examples)
            except Unsatisfiable:  # nothing to break: no parameters, or none a schema limits
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # collect them all, report at the end
                first = str(exc).strip().splitlines()[:12]
                failures.append(f"{operation.label} ({mode.value}):\n  " + "\n  ".join(first))
        done += 1
    assert failures == [], "\n\n".join(failures)
    assert done == len(operations), f"only {done} of {len(operations)} within the time budget"
    assert requests > 10 * len(operations)
