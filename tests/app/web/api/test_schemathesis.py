"""Schemathesis over the whole OpenAPI document of API v1 (issue #19): generated inputs for every
operation, sent as a manager, a technician and a resident (JWT); none may answer 500. Bounded: a
few examples per operation, SQLite only (the same code paths run on PostgreSQL in test_api_v1)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

USERS = ("manager_yc", "tech_yc1", "resident_yc")
EXAMPLES = 8


@pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)
def test_no_server_error_on_any_generated_input(demo_app):
    demo_app.config["ESTATEFLOW_API_RATE_LIMIT"] = "100000 per minute"
    tokens = {}
    for user in USERS:
        reply = demo_app.test_client().post("/api/v1/security/login", json={
            "username": user, "password": "demo1234", "provider": "db"})
        tokens[user] = reply.get_json()["access_token"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", demo_app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            for user in USERS:
                response = case.call(headers={"Authorization": f"Bearer {tokens[user]}"})
                if response.status_code >= 500:
                    failures.append((user, case.method, case.formatted_path, case.query, case.body,
                                     response.status_code, response.text[:300]))

        run()
    assert operations >= 25  # the estate API (5 operations) is in the document too
    assert not failures, "\n".join(map(repr, failures[:8]))
