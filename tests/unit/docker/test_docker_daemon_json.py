"""apim.selfhosted.docker_daemon_json run as Ansible runs a module (its JSON arguments, a real file system)."""

import glob
import json
import os
import subprocess
import sys

import pytest

MODULE = "ansible_collections.apim.selfhosted.plugins.modules.docker_daemon_json"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="sets the owner root")


def run_module(tmp_path, check_mode=False, **args):
    args = {"owner": "root", "group": "root", "mode": "0644", **args}
    path = tmp_path / ("args-%d.json" % len(list(tmp_path.glob("args-*"))))
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode}}))
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, str(path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert not result.get("failed"), result
    return result


@ROOT_ONLY
def test_a_fresh_host_gets_the_directory_and_the_file_in_one_run(tmp_path):
    path = tmp_path / "etc-docker" / "daemon.json"
    checked = run_module(tmp_path, check_mode=True, path=str(path), content='{"icc": false}\n')
    assert checked["changed"] is True and checked["created_directory"] == str(path.parent)
    assert checked["diff"]["after"] == '{"icc": false}\n' and checked["diff"]["before"] == ""
    assert not path.parent.exists(), "check mode wrote nothing"

    result = run_module(tmp_path, path=str(path), content='{"icc": false}\n')
    assert result["changed"] is True and result["created_directory"] == str(path.parent)
    assert path.read_text() == '{"icc": false}\n'
    assert oct(path.stat().st_mode & 0o7777) == "0o644" and oct(path.parent.stat().st_mode & 0o7777) == "0o755"
    again = run_module(tmp_path, path=str(path), content='{"icc": false}\n')
    assert again["changed"] is False and "created_directory" not in again and "diff" not in again


@ROOT_ONLY
def test_a_change_keeps_a_backup_and_a_mode_fix_keeps_the_text(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"debug": true}')
    path.chmod(0o600)
    result = run_module(tmp_path, path=str(path), content='{"debug": false}\n', backup=True)
    assert result["changed"] is True and result["diff"]["before"] == '{"debug": true}'
    assert open(result["backup_file"]).read() == '{"debug": true}'
    assert glob.glob(str(path) + ".*~") == [result["backup_file"]]
    assert oct(path.stat().st_mode & 0o7777) == "0o644"

    path.chmod(0o600)
    checked = run_module(tmp_path, check_mode=True, path=str(path), content='{"debug": false}\n', backup=True)
    assert checked["changed"] is True and "diff" not in checked
    assert oct(path.stat().st_mode & 0o7777) == "0o600", "check mode changed the mode"
    fixed = run_module(tmp_path, path=str(path), content='{"debug": false}\n', backup=True)
    assert fixed["changed"] is True and "backup_file" not in fixed
    assert oct(path.stat().st_mode & 0o7777) == "0o644"
    assert path.read_text() == '{"debug": false}\n'
