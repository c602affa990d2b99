"""The execution-environment metadata reaches ansible-builder from the built collection tarball."""

import pathlib
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def run(*cmd, cwd=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd, timeout=300)


def built_collection(tmp_path):
    run("ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT))
    tarball = next(tmp_path.glob("apim-selfhosted-*.tar.gz"))
    tree = tmp_path / "tree"
    run("ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", str(tree), str(tarball))
    return tarball, tree


def test_introspect_finds_collection_requirements(tmp_path):
    _, tree = built_collection(tmp_path)
    out = run("ansible-builder", "introspect", "--sanitize", str(tree)).stdout
    data = yaml.safe_load(out[out.index("python:") :]) if "python:" in out else {}
    python = " ".join(data.get("python", []))
    system = " ".join(data.get("system", []))
    for package in ("azure-identity", "azure-mgmt-authorization", "azure-mgmt-apimanagement"):
        assert package in python, f"{package} missing from introspected requirements:\n{out}"
    assert "python3-cryptography" in system
    # Ranges, never == pins: pinned EE requirements break users' image builds.
    lines = (ROOT / "meta/ee-requirements.txt").read_text().splitlines()
    pins = [line for line in lines if "==" in line and not line.lstrip().startswith("#")]
    assert not pins


def test_tarball_keeps_ee_metadata_and_drops_tests(tmp_path):
    tarball, _ = built_collection(tmp_path)
    names = run("tar", "tzf", str(tarball)).stdout.split()
    assert "meta/execution-environment.yml" in names
    assert "meta/ee-requirements.txt" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "molecule/", "lab/"))]


def test_sample_execution_environment_renders(tmp_path):
    ctx = tmp_path / "context"
    run(
        "ansible-builder", "create", "-f", str(ROOT / "examples/execution-environment.yml"),
        "-c", str(ctx), "--output-filename", "Containerfile",
    )  # fmt: skip
    containerfile = (ctx / "Containerfile").read_text()
    assert "quay.io/centos/centos:stream9" in containerfile
    assert "ansible-galaxy" in containerfile
    reqs = (ctx / "_build" / "requirements.yml").read_text()
    assert "apim.selfhosted" in reqs
