"""Shared fixtures for integration tests: the Docker engine and the test bed's images."""

import os
import shutil
import subprocess

import pytest

# Simulators and helpers shared by tests, the lab and the benchmarks: the test kit apim_testkit (tests/fixtures),
# which tests/testbed.sh installs into its venv.


def docker(*args, check=True, timeout=300, **kw):
    return subprocess.run(["docker", *args], check=check, timeout=timeout, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def docker_engine():
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("the Docker engine does not answer: run tests/testbed.sh first")
    return docker


@pytest.fixture(scope="session")
def edge_image(docker_engine):
    image = os.environ.get("APIM_EDGE_IMAGE", "apim-testbed/edgehost:bookworm")
    if docker("image", "inspect", image, check=False).returncode != 0:
        pytest.fail(f"image {image} is missing: run tests/testbed.sh first")
    return image
