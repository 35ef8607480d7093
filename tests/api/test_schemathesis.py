"""Property-based run of every operation in the OpenAPI document (schemathesis): whatever is
sent, with a valid key, the API never answers 5xx.

Each operation gets a modest number of generated requests, fitting the schema (positive) and
not (negative); the run works on the small bureau of `conftest.py` (SQLite and PostgreSQL) with
a key holding both roles. Half of the report and score bodies are pointed at a real consent and
subject, so that generated formats, languages and as-of dates reach the report and the scorer,
not only the consent check.

(Schemathesis' own `from_fixture(...).parametrize()` does not run under pytest 9 with
schemathesis 4.32 -- it reads a `_nodeid` pytest no longer has -- so each operation is driven
here with `APIOperation.as_strategy` and Hypothesis directly.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from credo.access import keys
from credo.api.app import create_app
from credo.config import Settings
from furnishing.bureau import BANK, ZHANG_ID

#: examples per operation and mode; API_FUZZ_EXAMPLES=300 for a deeper run (about a minute)
_N = os.environ.get("API_FUZZ_EXAMPLES")
EXAMPLES = {
    GenerationMode.POSITIVE: int(_N or 15),
    GenerationMode.NEGATIVE: int(_N or 10),
}


@pytest.fixture
def settings() -> Settings:
    # no rate limit in the way of a fuzzer sending hundreds of requests a second
    return Settings(api_rate_burst=1_000_000, api_rate_per_second=1_000_000.0)


def test_no_input_makes_the_api_fail(api):
    with api.db() as s:
        _, token = keys.create_key(
            s, institution_code=BANK, roles=["querier", "furnisher"], actor="test"
        )
    headers = {"Authorization": f"Bearer {token}"}
    consent = api.consent()
    app = create_app(settings=api.settings, engine=api.engine, keyring=api.keyring)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/reports", "/v1/furnishing/batches"}
    seen: dict[tuple[str, int], int] = {}
    for op in operations:
        for mode, n in EXAMPLES.items():
            try:
                _fuzz(op, mode, n, headers, consent, seen)
            except Unsatisfiable:
                # nothing to get wrong in a request without parameters or body (/healthz)
                if mode is GenerationMode.POSITIVE or op.body or op.query or op.path_parameters:
                    raise
    # the run reached past the consent check to served reports and scores, and past validation
    assert seen.get(("/v1/reports", 200)) and seen.get(("/v1/scores", 200)), seen
    assert seen.get(("/v1/consents", 422)) and seen.get(("/v1/furnishing/batches", 422)), seen
    assert all(status < 500 for _, status in seen), seen


def _fuzz(op, mode: GenerationMode, n: int, headers: dict, consent: str, seen: dict) -> None:
    """Send `n` generated requests to one operation; every answer must be under 500."""
    real_subject = op.path in ("/v1/reports", "/v1/scores")

    @hypothesis_settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode), real=st.booleans())
    def run(case, real):
        if real and real_subject and isinstance(case.body, dict):
            case.body.update(
                id_type="prc_id", id_number=ZHANG_ID, consent_ref=consent, purpose="loan_approval"
            )  # the consent's: the query can succeed
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        key = (op.path, response.status_code)
        seen[key] = seen.get(key, 0) + 1

    run()
