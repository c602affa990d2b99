"""The preflight lab (tests/fixtures/preflight/preflight_lab.py) as a session fixture."""

import os
import runpy

import pytest

from apim_testkit.preflight.preflight_lab import (  # noqa: F401 - re-exported for the tests
    AUTHORITY,
    CACHE,
    EDGE,
    ENDPOINT,
    EVENT_HUBS,
    INGESTION,
    LABEL,
    PRIVATE,
    PRIVATE_CA_ON_EDGE,
    PROXY,
    REGION,
    SKEWED,
    STORAGE,
    docker,
)
from apim_testkit.preflight.preflight_lab import down as lab_down
from apim_testkit.preflight.preflight_lab import up as lab_up

# ansible_collections.apim.selfhosted importable as in the unit tests (test_host_ports imports module_utils).
TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
runpy.run_path(os.path.join(TESTS, "unit", "conftest.py"))


@pytest.fixture(scope="session")
def lab(docker_engine, edge_image):
    try:
        yield lab_up()
    finally:
        if not os.environ.get("PREFLIGHT_KEEP_LAB"):
            lab_down()
