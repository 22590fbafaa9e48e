"""Schemathesis against the live OpenAPI document of the real server: for every
operation, generated valid and invalid requests never get a 5xx, and every
response matches the schema the document declares for its status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

# Per operation: enough to reach every parameter, few enough for the whole
# document to run in well under a minute.
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


@pytest.mark.slow
async def test_no_server_errors_and_every_response_matches_its_schema(api: Any) -> None:
    # schemathesis calls are blocking; the server keeps running on this loop meanwhile.
    failures = await asyncio.to_thread(_fuzz, api.url, api.keys["admin"])
    assert failures == [], "\n\n".join(failures)


def _fuzz(base_url: str, key: str) -> list[str]:
    headers = {"X-API-Key": key}
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", headers=headers)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=base_url,
                    headers=headers,
                    checks=[not_a_server_error, response_schema_conformance],
                )

            try:
                check()
            except Unsatisfiable:
                # No invalid request exists for an operation without inputs.
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as error:
                failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures
