"""The preflight lab (tests/fixtures/preflight/lab.py) as a session fixture."""

import os
import sys

import pytest

sys.path.insert(
    0,
    os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "preflight"),
)
from preflight_lab import (  # noqa: F401 - re-exported for the tests
    AUTHORITY,
    EDGE,
    ENDPOINT,
    LABEL,
    PRIVATE,
    PRIVATE_CA_ON_EDGE,
    PROXY,
    SKEWED,
    docker,
)
from preflight_lab import down as lab_down
from preflight_lab import up as lab_up


@pytest.fixture(scope="session")
def lab(docker_engine, edge_image):
    try:
        yield lab_up()
    finally:
        if not os.environ.get("PREFLIGHT_KEEP_LAB"):
            lab_down()
