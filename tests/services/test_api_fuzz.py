"""Schemathesis over the OpenAPI of a real ``stic up`` server: no input may cause a 5xx.

Runs against SQLite and PostgreSQL (PostgreSQL rejects things SQLite accepts, such as NUL
bytes in text, so both matter). Each operation is fuzzed with random and with real ids.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.kernel.auth import issue_key
from tests.conftest import TEST_SECRET, fresh_database
from tests.services.server import stic_up

EXAMPLES_PER_OPERATION = 6  # new random examples every run; 12 cost 80 s per backend


def _seed(base_url: str, token: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        tenant = client.post("/v1/tenants", json={"name": "fuzz"}).json()
        tid = tenant["id"]
        dep = client.post(f"/v1/tenants/{tid}/departments", json={"name": "d"}).json()
        prj = client.post(
            f"/v1/tenants/{tid}/projects", json={"name": "p", "department_id": dep["id"]}
        ).json()
        user = client.post(f"/v1/tenants/{tid}/users", json={"name": "u"}).json()
    return {
        "tenant_id": tid,
        "department_id": dep["id"],
        "project_id": prj["id"],
        "scope_id": prj["id"],
        "user_id": user["id"],
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_input_causes_a_server_error(backend: str, tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    token = issue_key(secret=TEST_SECRET).token
    key_file.write_text(token)
    with (
        fresh_database(backend, tmp_path) as url,
        stic_up(database_url=url, secret=TEST_SECRET, key_file=key_file) as base,
    ):
        ids = _seed(base, token)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        failures: list[str] = []
        calls = 0
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 40
        auth = {"Authorization": f"Bearer {token}"}
        for operation in operations:
            known = {name: ids[name] for name in ids if "{" + name + "}" in operation.path}
            strategies = [
                operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
                operation.as_strategy(schemathesis.GenerationMode.POSITIVE, path_parameters=known),
                operation.as_strategy(schemathesis.GenerationMode.NEGATIVE, path_parameters=known),
            ]

            @given(case=st.one_of(strategies))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base, headers=auth)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                    )

            check()
        assert calls >= len(operations) * 4, f"only {calls} requests were generated"
        assert not failures, "\n".join(failures[:20])
