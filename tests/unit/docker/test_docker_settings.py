"""The docker role's plan through its filter: variables, daemon.json merge, host checks from the probe's result."""

import json
import os

import pytest
import yaml

from ansible_collections.apim.selfhosted.plugins.filter import docker_settings as plugin
from ansible_collections.apim.selfhosted.plugins.filter.docker_settings import docker_settings
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_role_inputs import (
    role_platforms,
    role_spec,
    version_tuple,
)

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "docker")
INFO = {"ServerVersion": "20.10.24+dfsg1", "LiveRestoreEnabled": False, "LoggingDriver": "json-file"}
ROOT_644 = {"type": "file", "mode": "0644", "owner": "root", "group": "root"}


def defaults(**over):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as fh:
        values = yaml.safe_load(fh)
    values.update(over)
    return values


def probe(
    packages=(),
    info=None,
    daemon_json=None,
    writable=True,
    users=(),
    members=None,
    stat=None,
    started=None,
    mtime=None,
    candidates=None,
    **apt,
):
    """A result of apim.selfhosted.docker_host_probe, as the module returns it."""
    engine = {"running": False, "error": "cannot reach the Docker daemon at unix:///var/run/docker.sock: refused"}
    if info:
        engine = {
            "running": True,
            "version": info["ServerVersion"],
            "live_restore": info["LiveRestoreEnabled"],
            "logging_driver": info["LoggingDriver"],
            "started": started,
        }
    exists = daemon_json is not None
    return {
        "changed": False,
        "platform": {},
        "route_localnet_writable": writable,
        "apt": {"python_apt": True, "legacy_docker_list": False, "repo_key": False, "keyring_dir": True, **apt},
        "unit": {"enabled": "enabled" if info else "", "active": "active" if info else "inactive"},
        "docker_group": list(members) if members is not None else None,
        "users": list(users),
        "daemon_json": {
            "path": "/etc/docker/daemon.json",
            "exists": exists,
            "content": daemon_json,
            "mtime": mtime if exists else None,
            "stat": dict(ROOT_644, **(stat or {})) if exists else None,
        },
        "packages": dict(packages),
        "candidates": candidates or {},
        "engine": engine,
    }


def host(**kw):
    facts = {
        "distribution": kw.pop("distribution", "Debian"),
        "distribution_release": kw.pop("release", "bookworm"),
        "distribution_major_version": kw.pop("major", "12"),
        "pkg_mgr": kw.pop("pkg_mgr", "apt"),
        "service_mgr": kw.pop("service_mgr", "systemd"),
        "architecture": kw.pop("architecture", "x86_64"),
        "apparmor": kw.pop("apparmor", "disabled"),
    }
    facts["probe"] = probe(**kw)
    return facts


INSTALLED = [
    ("docker.io", "20.10.24+dfsg1-1+deb12u1+b6"),
    ("python3-requests", "2.28.1+dfsg-1"),
    ("python3-docker", "5.0.3-1"),
]


def run(values=None, **kw):
    return docker_settings(values if values is not None else defaults(), host=host(**kw))


def errors_of(values=None, **kw):
    return " | ".join((run(values, **kw) if kw else docker_settings(values))["errors"])


# ------------------------------------------------------------------------------------------------ spec and defaults


def test_defaults_match_the_argument_spec():
    spec = role_spec()
    values = defaults()
    assert set(values) == set(spec), "every variable has a default in defaults/main.yml and an entry in the spec"
    for name, opt in spec.items():
        assert opt.get("description"), name
        assert opt.get("type"), name
        assert values[name] == opt.get("default"), name
    assert docker_settings(values)["errors"] == []


def test_platforms_come_from_meta_main():
    assert role_platforms() == [("Debian", ["bookworm"])]


def test_the_docs_parse():
    for text in (plugin.DOCUMENTATION, plugin.EXAMPLES, plugin.RETURN):
        assert yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20.10.24+dfsg1", (20, 10, 24)), ("27.3.1", (27, 3, 1)), ("5:27.3.1-1~debian.12", (27, 3, 1)), ("x", None)],
)
def test_version_tuple(text, expected):
    assert version_tuple(text) == expected


# ------------------------------------------------------------------------------------------------ bad variables


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"docker_install_source": "podman"}, "docker_install_source must be one of: distro, docker_ce, none"),
        ({"docker_daemon_options": "live-restore=true"}, "docker_daemon_options must be a mapping"),
        ({"docker_daemon_options": ["icc"]}, "docker_daemon_options must be a mapping"),
        ({"docker_daemon_options": {"live-restore": "yes"}}, "docker_daemon_options['live-restore'] must be a boolean"),
        ({"docker_daemon_options": {"icc": 0}}, "docker_daemon_options['icc'] must be a boolean"),
        (
            {"docker_daemon_options": {"log-opts": {"max-file": 3}}},
            "docker_daemon_options['log-opts'] must be a mapping",
        ),
        (
            {"docker_daemon_options": {"log-opts": "max-size=10m"}},
            "docker_daemon_options['log-opts'] must be a mapping",
        ),
        ({"docker_daemon_options": {"log-opts": {"max-size": "ten"}}}, "max-size must be a size"),
        ({"docker_daemon_options": {"max-concurrent-downloads": "3"}}, "must be an integer"),
        ({"docker_daemon_options": {"max-concurrent-downloads": True}}, "must be an integer"),
        ({"docker_daemon_options": {"dns": "10.0.0.2"}}, "docker_daemon_options['dns'] must be a list of strings"),
        ({"docker_daemon_options": {"log-level": "verbose"}}, "docker_daemon_options['log-level'] must be one of"),
        ({"docker_daemon_options": {"data-root": ""}}, "must be a non-empty string"),
        ({"docker_daemon_options": {"features": {"buildkit": "true"}}}, "a mapping of names to booleans"),
        ({"docker_daemon_options": {"default-address-pools": [{"base": "10.0.0.0/8"}]}}, "base (a CIDR string)"),
        ({"docker_daemon_options": {"live_restore": True}}, "did you mean 'live-restore'"),
        ({"docker_daemon_options": {"log-opt": {}}}, "did you mean 'log-opts'"),
        (
            {"docker_daemon_options": {"hosts": ["tcp://0.0.0.0:2375"]}},
            "docker_daemon_options['hosts']: the docker unit",
        ),
        ({"docker_daemon_options": {"containerd": "/x.sock"}}, "docker_daemon_options['containerd']"),
        ({"docker_live_restore": "maybe"}, "docker_live_restore"),
        ({"docker_log_level": "trace"}, "docker_log_level must be one of"),
        ({"docker_log_max_size": "ten megs"}, "docker_log_max_size must be a size"),
        ({"docker_log_max_file": 0}, "docker_log_max_file must be at least 1"),
        ({"docker_log_driver": " "}, "docker_log_driver must be a log driver name"),
        ({"docker_min_version": "twenty"}, "docker_min_version must be a version"),
        ({"docker_ce_version": "latest"}, "docker_ce_version must be an upstream version"),
        ({"docker_ce_version": "27.3"}, "docker_ce_version must be an upstream version"),
        ({"docker_ce_repo_url": "ftp://mirror/docker"}, "docker_ce_repo_url must be an http(s) URL"),
        ({"docker_ce_gpg_key_checksum": "md5:abc"}, "docker_ce_gpg_key_checksum must look like sha256"),
        ({"docker_daemon_config_path": "daemon.json"}, "docker_daemon_config_path must be an absolute file path"),
        ({"docker_service_name": "docker service"}, "docker_service_name must be a systemd unit name"),
        ({"docker_users": ["Bad User"]}, "docker_users: 'Bad User' is not a user name"),
        ({"docker_wait_timeout": 0}, "docker_wait_timeout must be at least 1 second"),
        ({"docker_apt_cache_valid_time": -1}, "docker_apt_cache_valid_time must be 0 or more"),
        ({"docker_userland_proxy": "sometimes"}, "docker_userland_proxy"),
    ],
)
def test_bad_variable_is_refused_by_name(over, message):
    assert message in errors_of(defaults(**over))


def test_bad_input_fails_with_host_too_and_writes_nothing():
    result = run(defaults(docker_daemon_options={"live-restore": "yes"}), daemon_json='{"debug": true}', info=INFO)
    assert result["errors"] and result["daemon"]["content"] is None and result["daemon"]["changed"] is False


def test_argument_spec_conversions_apply_to_role_variables():
    result = docker_settings(defaults(docker_live_restore="yes", docker_icc="no", docker_log_max_file="5"))
    assert result["errors"] == []
    managed = result["daemon"]["managed"]
    assert managed["live-restore"] is True and managed["icc"] is False
    assert managed["log-opts"] == {"max-size": "10m", "max-file": "5"}


def test_unknown_variable_and_unknown_key_warn():
    result = docker_settings(defaults(docker_live_restor=True, docker_daemon_options={"some-future-key": 1}))
    assert result["errors"] == []
    assert any("docker_live_restor is not a variable" in w for w in result["warnings"])
    assert any("'some-future-key' is not a daemon.json key" in w for w in result["warnings"])


def test_hosts_key_only_warns_with_source_none():
    result = run(defaults(docker_install_source="none", docker_daemon_options={"hosts": ["unix://"]}), info=INFO)
    assert result["errors"] == []
    assert any("docker_daemon_options['hosts']" in w for w in result["warnings"])


# ------------------------------------------------------------------------------------------------ daemon.json


def test_bare_host_gets_the_managed_keys_and_both_packages():
    result = run()
    assert result["errors"] == []
    assert result["packages"] == ["docker.io", "python3-requests", "python3-docker"]
    config = json.loads(result["daemon"]["content"])
    assert config == {
        "live-restore": True,
        "icc": False,
        "userland-proxy": False,
        "no-new-privileges": True,
        "log-driver": "local",
        "log-level": "info",
        "log-opts": {"max-size": "10m", "max-file": "3"},
    }
    assert result["daemon"]["changed"] is True
    assert result["daemon"]["restart"] is False, "nothing runs yet: the package starts the engine with this file"
    assert result["engine"]["installed"] is False


def test_hand_made_keys_are_kept_in_their_order_and_managed_ones_overridden():
    existing = '{"max-concurrent-downloads": 7, "log-driver": "json-file", "default-address-pools": []}'
    result = run(daemon_json=existing, packages=INSTALLED, info=INFO, members=[])
    config = result["daemon"]["config"]
    assert list(config)[:3] == ["max-concurrent-downloads", "log-driver", "default-address-pools"]
    assert config["max-concurrent-downloads"] == 7 and config["log-driver"] == "local"
    assert result["packages"] == []
    assert result["daemon"]["restart"] is True
    assert result["daemon"]["reload_first"] is True, "the running daemon has no live-restore: reload before restart"


def test_same_config_keeps_the_existing_text():
    first = run(packages=INSTALLED, info=INFO)
    text = first["daemon"]["content"].replace("\n", "\r\n ")  # same JSON, other formatting
    again = run(daemon_json=text, packages=INSTALLED, info=dict(INFO, LiveRestoreEnabled=True, LoggingDriver="local"))
    assert again["daemon"]["changed"] is False
    assert again["daemon"]["content"] == text
    assert again["daemon"]["file_ok"] is True and again["daemon"]["restart"] is False


def test_mode_drift_alone_is_not_a_content_change():
    text = run()["daemon"]["content"]
    result = run(daemon_json=text, stat={"mode": "0600"}, packages=INSTALLED, info=INFO)
    assert result["daemon"]["changed"] is False and result["daemon"]["file_ok"] is False
    assert result["daemon"]["restart"] is False


def test_json_types_are_compared_strictly():
    text = run()["daemon"]["content"].replace('"live-restore": true', '"live-restore": 1')
    assert run(daemon_json=text)["daemon"]["changed"] is True


def test_options_override_add_and_null_removes():
    over = defaults(docker_daemon_options={"icc": True, "max-concurrent-uploads": 3, "debug": None})
    result = run(over, daemon_json='{"debug": true, "labels": ["site=a"]}')
    config = result["daemon"]["config"]
    assert config["icc"] is True and config["max-concurrent-uploads"] == 3
    assert "debug" not in config and config["labels"] == ["site=a"]
    assert "debug" in result["daemon"]["removed"]


def test_other_log_driver_gets_no_rotation_options():
    result = run(defaults(docker_log_driver="journald"), daemon_json='{"log-opts": {"max-size": "1m"}}')
    assert result["daemon"]["config"]["log-driver"] == "journald"
    assert "log-opts" not in result["daemon"]["config"]
    own = run(defaults(docker_log_driver="syslog", docker_daemon_options={"log-opts": {"tag": "gw"}}))
    assert own["daemon"]["config"]["log-opts"] == {"tag": "gw"}


def test_log_driver_from_options_decides_the_rotation():
    result = run(defaults(docker_daemon_options={"log-driver": "json-file"}))
    assert result["daemon"]["config"]["log-opts"] == {"max-size": "10m", "max-file": "3"}


@pytest.mark.parametrize("text", ['{"debug": true,}', "{", '["live-restore"]', '"x"'])
def test_invalid_existing_file_is_refused(text):
    result = run(daemon_json=text)
    assert "/etc/docker/daemon.json on this host (docker_daemon_config_path)" in " ".join(result["errors"])
    assert result["daemon"]["content"] is None


def test_empty_or_bom_existing_file_is_read():
    assert run(daemon_json="  \n")["errors"] == []
    bom = run(daemon_json='\ufeff{"debug": true}')
    assert bom["errors"] == [] and bom["daemon"]["config"]["debug"] is True


def test_userland_proxy_stays_on_when_proc_sys_is_read_only():
    result = run(writable=False)
    assert result["daemon"]["config"]["userland-proxy"] is True
    assert any("docker_userland_proxy is false" in w and "route_localnet" in w for w in result["warnings"])
    asked = run(defaults(docker_daemon_options={"userland-proxy": False}), writable=False)
    assert any("docker_daemon_options['userland-proxy']" in w for w in asked["warnings"])


def test_turning_live_restore_off_warns():
    result = run(defaults(docker_live_restore=False), packages=INSTALLED, info=dict(INFO, LiveRestoreEnabled=True))
    assert result["daemon"]["reload_first"] is False and result["daemon"]["restart"] is True
    assert any("stops the running containers" in w for w in result["warnings"])


# ------------------------------------------------------------------------------------------------ the host


def test_unsupported_platform_fails_naming_the_override():
    message = errors_of(defaults(), distribution="Ubuntu", release="noble", major="24")
    assert "Ubuntu 24 (noble)" in message and "docker_allow_unsupported_platform: true" in message
    allowed = run(defaults(docker_allow_unsupported_platform=True), distribution="Ubuntu", release="noble", major="24")
    assert allowed["errors"] == [] and any(
        "docker_allow_unsupported_platform is true" in w for w in allowed["warnings"]
    )
    assert "Debian 11" in errors_of(defaults(), release="bullseye", major="11")


def test_systemd_and_apt_are_needed():
    assert "needs systemd" in errors_of(defaults(), service_mgr="openrc")
    assert "needs apt" in errors_of(defaults(docker_allow_unsupported_platform=True), pkg_mgr="dnf")


def test_source_none_without_an_engine_fails_naming_the_variable():
    message = " | ".join(run(defaults(docker_install_source="none"))["errors"])
    assert "docker_install_source is none, but no usable Docker Engine" in message
    assert "cannot reach the Docker daemon" in message


def test_source_none_with_an_engine_installs_nothing():
    result = run(defaults(docker_install_source="none"), packages=[("docker-ce", "5:27.3.1-1")], info=INFO)
    assert result["errors"] == [] and result["packages"] == []
    assert any("python3-docker is not installed" in w for w in result["warnings"])


def test_old_engine_fails_naming_docker_min_version():
    old = dict(INFO, ServerVersion="19.03.15")
    assert "older than docker_min_version 20.10" in errors_of(defaults(docker_install_source="none"), info=old)
    assert "older than docker_min_version 99.0" in errors_of(
        defaults(docker_min_version="99.0"), packages=INSTALLED, info=INFO
    )


@pytest.mark.parametrize(
    ("source", "installed", "message"),
    [
        (
            "distro",
            [("docker-ce", "5:27.3.1-1~debian.12~bookworm")],
            "docker_install_source is distro, but Docker Engine",
        ),
        (
            "docker_ce",
            [("docker.io", "20.10.24")],
            "docker_install_source is docker_ce, but Docker Engine from another",
        ),
        ("distro", [("moby-engine", "20.10")], "moby-engine"),
    ],
)
def test_engine_from_another_source_is_never_replaced(source, installed, message):
    result = run(defaults(docker_install_source=source), packages=installed, info=INFO)
    assert message in " ".join(result["errors"])
    assert "docker_install_source: none" in " ".join(result["errors"])


def test_running_engine_without_a_package_is_not_doubled():
    message = errors_of(defaults(), packages=[], info=INFO)
    assert "already runs on this host without the docker.io package" in message


def test_apparmor_host_gets_apparmor():
    assert "apparmor" in run(apparmor="enabled")["packages"]


def test_users_must_exist_and_only_missing_members_are_added():
    message = errors_of(defaults(docker_users=["gwops", "nobody2"]), users=["gwops"])
    assert "docker_users: user 'nobody2' does not exist" in message
    result = run(defaults(docker_users=["gwops", "ops2"]), users=["gwops", "ops2"], members=["gwops"])
    assert result["users_to_add"] == ["ops2"]


def test_probe_arguments_name_what_to_look_for():
    args = docker_settings(defaults(docker_users=["gwops"]))["probe_args"]
    assert args["service_name"] == "docker" and args["daemon_config_path"] == "/etc/docker/daemon.json"
    assert args["users"] == ["gwops"] and args["candidates"] == ["docker.io"]
    assert {"docker.io", "docker-ce", "containerd.io", "python3-requests"} <= set(args["packages"])
    assert docker_settings(defaults(docker_install_source="none"))["probe_args"]["candidates"] == []


# ------------------------------------------------------------------------------------------------ docker_ce


def test_docker_ce_repository_and_pinned_packages():
    result = run(defaults(docker_install_source="docker_ce", docker_ce_version="27.3.1"))
    assert result["errors"] == []
    repo = result["repo"]
    assert repo["url"] == "https://download.docker.com/linux/debian"
    assert repo["key_url"] == "https://download.docker.com/linux/debian/gpg"
    assert repo["key_path"] == "/etc/apt/keyrings/docker.asc"
    assert repo["key_present"] is False
    assert "Suites: bookworm\n" in repo["sources"] and "Architectures: amd64\n" in repo["sources"]
    assert "Signed-By: /etc/apt/keyrings/docker.asc\n" in repo["sources"]
    assert result["packages"] == [
        "docker-ce=5:27.3.1-*",
        "docker-ce-cli=5:27.3.1-*",
        "containerd.io",
        "iptables",
        "python3-requests",
        "python3-docker",
    ]


def test_docker_ce_full_version_mirror_and_arm():
    over = defaults(
        docker_install_source="docker_ce",
        docker_ce_version="5:27.3.1-1~debian.12~bookworm",
        docker_ce_repo_url="https://mirror.example/docker/linux/",
    )
    result = run(over, architecture="aarch64", packages=[("docker-ce", "5:27.3.1-1~debian.12~bookworm")])
    assert result["repo"]["url"] == "https://mirror.example/docker/linux/debian"
    assert "Architectures: arm64\n" in result["repo"]["sources"]
    assert "docker-ce=5:27.3.1-1~debian.12~bookworm" not in result["packages"], "installed at the pinned version"
    assert "docker-ce-cli=5:27.3.1-1~debian.12~bookworm" in result["packages"]


def test_docker_ce_other_installed_version_is_installed_at_the_pin():
    over = defaults(docker_install_source="docker_ce", docker_ce_version="27.3.1")
    result = run(over, packages=[("docker-ce", "5:26.1.0-1~debian.12~bookworm")])
    assert "docker-ce=5:27.3.1-*" in result["packages"]


def test_docker_ce_key_on_the_host_is_seen():
    h = host(repo_key=True)
    assert docker_settings(defaults(docker_install_source="docker_ce"), host=h)["repo"]["key_present"] is True
    assert docker_settings(defaults())["probe_args"]["repo_key_path"] == "/etc/apt/keyrings/docker.asc"


def test_docker_ce_refuses_a_legacy_list_file_and_unknown_architecture():
    over = defaults(docker_install_source="docker_ce")
    h = host(architecture="mips")
    assert "no Docker CE packages for architecture mips" in " ".join(docker_settings(over, host=h)["errors"])
    h = host(legacy_docker_list=True)
    assert "docker.list already defines Docker's repository" in " ".join(docker_settings(over, host=h)["errors"])


def test_docker_ce_version_with_another_source_warns():
    result = docker_settings(defaults(docker_ce_version="27.3.1"))
    assert any("docker_ce_version is set but docker_install_source is distro" in w for w in result["warnings"])


def test_filter_rejects_non_mapping_input():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError):
        docker_settings(["docker_install_source"])
    with pytest.raises(AnsibleFilterError):
        docker_settings({}, host="x")


# ------------------------------------------------------------------------------------------ platform from the probe


def probe_only(platform, **system):
    """A host that gathered no facts: only the probe, with its platform."""
    result = probe()
    result["platform"] = {
        "architecture": "x86_64",
        "pkg_mgr": "apt",
        "service_mgr": "systemd",
        "apparmor": "disabled",
        **platform,
        **system,
    }
    return {"probe": result}


DEBIAN_12 = {"distribution": "Debian", "distribution_release": "bookworm", "distribution_major_version": "12"}


def test_the_probe_gives_the_platform_when_the_play_gathered_no_facts():
    assert docker_settings(defaults(), host=probe_only(DEBIAN_12))["errors"] == []
    ubuntu = probe_only({"distribution": "Ubuntu", "distribution_major_version": "24", "distribution_release": "noble"})
    assert "Ubuntu 24 (noble)" in " ".join(docker_settings(defaults(), host=ubuntu)["errors"])
    fedora = probe_only({"distribution": "fedora", "distribution_major_version": "41"}, pkg_mgr="dnf")
    message = " ".join(docker_settings(defaults(), host=fedora)["errors"])
    assert "fedora 41" in message and "needs apt; this host uses dnf" in message
    openrc = " ".join(docker_settings(defaults(), host=probe_only(DEBIAN_12, service_mgr="openrc-init"))["errors"])
    assert "needs systemd; this host's service manager is openrc-init" in openrc


def test_gathered_facts_win_over_the_probe():
    gathered = host(distribution="Ubuntu", release="noble", major="24")
    gathered["probe"]["platform"] = dict(DEBIAN_12)
    assert "Ubuntu 24 (noble)" in " ".join(docker_settings(defaults(), host=gathered)["errors"])


def test_apparmor_from_the_probe_adds_its_package():
    enabled = docker_settings(defaults(), host=probe_only(DEBIAN_12, apparmor="enabled"))
    disabled = docker_settings(defaults(), host=probe_only(DEBIAN_12))
    assert "apparmor" in enabled["packages"] and "apparmor" not in disabled["packages"]


# ------------------------------------------------------------------------------------------ engine versions and keys

CONVERGED = dict(INFO, LiveRestoreEnabled=True, LoggingDriver="local")


def test_proxies_is_refused_for_an_engine_that_does_not_know_it():
    proxies = {"http-proxy": "http://proxy.corp:3128", "no-proxy": "localhost"}
    over = defaults(docker_daemon_options={"proxies": proxies})
    running = errors_of(over, packages=INSTALLED, info=INFO)
    assert "docker_daemon_options['proxies']: Docker Engine 20.10.24" in running
    assert "added in 23.0" in running and "systemd drop-in" in running
    # A bare host: the version apt would install decides, before anything is installed.
    fresh = errors_of(over, candidates={"docker.io": "20.10.24+dfsg1-1+deb12u1+b6"})
    assert "docker_daemon_options['proxies']: Docker Engine 20.10.24" in fresh
    newer = run(over, packages=INSTALLED, info=dict(INFO, ServerVersion="24.0.7"))
    assert newer["errors"] == [] and newer["daemon"]["config"]["proxies"] == proxies
    pinned = defaults(
        docker_install_source="docker_ce", docker_ce_version="27.3.1", docker_daemon_options={"proxies": proxies}
    )
    assert run(pinned)["errors"] == []


def test_a_new_engine_older_than_docker_min_version_is_refused_before_the_install():
    message = errors_of(defaults(docker_min_version="24.0"), candidates={"docker.io": "20.10.24+dfsg1-1+deb12u1+b6"})
    assert (
        "docker_install_source distro would install Docker Engine 20.10.24, older than docker_min_version 24.0"
        in message
    )
    assert run(defaults(docker_min_version="24.0"))["errors"] == [], "no candidate known: nothing to refuse"


def test_an_engine_that_started_before_the_file_was_written_is_restarted():
    text = run()["daemon"]["content"]
    pending = run(daemon_json=text, packages=INSTALLED, info=CONVERGED, mtime=200.0, started=100.0)
    assert pending["errors"] == []
    assert pending["daemon"]["changed"] is False and pending["daemon"]["file_ok"] is True
    assert pending["daemon"]["restart"] is True and pending["daemon"]["reload_first"] is False
    assert any("has not applied it" in w for w in pending["warnings"])
    applied = run(daemon_json=text, packages=INSTALLED, info=CONVERGED, mtime=100.0, started=200.0)
    assert applied["daemon"]["restart"] is False and applied["warnings"] == []
    # Without live-restore yet, the pending restart reloads first so that containers survive it.
    old = run(daemon_json=text, packages=INSTALLED, info=dict(INFO), mtime=200.0, started=100.0)
    assert old["daemon"]["restart"] is True and old["daemon"]["reload_first"] is True


def test_an_engine_that_runs_another_configuration_is_refused():
    text = run()["daemon"]["content"]
    message = errors_of(daemon_json=text, packages=INSTALLED, info=INFO, mtime=100.0, started=200.0)
    assert "reports live-restore False and log driver json-file" in message
    assert "--config-file" in message


def test_check_mode_knows_what_a_bare_host_lacks():
    result = run(candidates={"docker.io": "20.10.24+dfsg1-1+deb12u1+b6"}, python_apt=False)
    assert result["errors"] == []
    assert result["packages"] == ["docker.io", "python3-requests", "python3-docker"]
    assert result["engine"]["installed"] is False and result["engine"]["unit_ok"] is False


def test_the_start_limit_is_cleared_only_before_a_start_that_could_be_refused():
    text = run()["daemon"]["content"]
    assert run(daemon_json=text, packages=INSTALLED, info=CONVERGED)["reset_start_limit"] is False
    change = run(defaults(docker_icc=True), daemon_json=text, packages=INSTALLED, info=CONVERGED)
    assert change["daemon"]["restart"] is True and change["reset_start_limit"] is True
    failed = host(packages=INSTALLED, daemon_json=text)
    failed["probe"]["unit"] = {"enabled": "enabled", "active": "failed"}
    stopped = docker_settings(defaults(), host=failed)
    assert stopped["engine"]["unit_ok"] is False and stopped["reset_start_limit"] is True
    assert run()["reset_start_limit"] is False, "a bare host has no unit to clear"


def test_the_change_tasks_run_only_when_the_plan_has_a_change():
    text = run()["daemon"]["content"]
    converged = run(daemon_json=text, packages=INSTALLED, info=CONVERGED)
    assert converged["changes"] is False, converged
    assert run()["changes"] is True, "a bare host needs everything"
    assert run(defaults(docker_icc=True), daemon_json=text, packages=INSTALLED, info=CONVERGED)["changes"] is True
    assert run(defaults(docker_users=["ops"]), daemon_json=text, packages=INSTALLED, info=CONVERGED)["changes"] is True
    stopped = host(packages=INSTALLED, daemon_json=text)
    stopped["probe"]["unit"] = {"enabled": "enabled", "active": "inactive"}
    assert docker_settings(defaults(), host=stopped)["changes"] is True
    assert docker_settings(defaults())["changes"] is True, "without the host, the plan cannot tell"
