# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which apt packages the docker role installs, from which repository: the package planner (only what is missing,
never an engine from another source) and the deb822 ``.sources`` text of Docker's own repository."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_role_inputs import CE_FULL, version_tuple

DISTRO_PACKAGES = ("docker.io",)
CE_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io")
REPO_KEY = "/etc/apt/keyrings/docker.asc"
REPO_SOURCES = "/etc/apt/sources.list.d/docker.sources"
EXTRA_PACKAGES = ("iptables", "apparmor", "python3-requests", "python3-docker")
# Engines from another source: installing ours would remove them (and stop their containers).
FOREIGN = {
    "distro": ("docker-ce", "moby-engine", "podman-docker"),
    "docker_ce": ("docker.io", "moby-engine", "podman-docker"),
}
ALL_PACKAGES = tuple(
    sorted(set(DISTRO_PACKAGES + CE_PACKAGES + FOREIGN["distro"] + FOREIGN["docker_ce"] + EXTRA_PACKAGES))
)
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
}


def engine_packages(source):
    """The packages whose presence means the engine of ``source`` is installed (none for source none)."""
    return {"distro": DISTRO_PACKAGES, "docker_ce": CE_PACKAGES}.get(source, ())


def _wanted(v, host):
    """(name, version or None) of everything the source needs on this host."""
    source, pin = v["docker_install_source"], v["docker_ce_version"] or ""
    if source == "distro":
        wanted = [(name, None) for name in DISTRO_PACKAGES]
    else:
        wanted = []
        for name in CE_PACKAGES:
            if pin and name in ("docker-ce", "docker-ce-cli"):
                wanted.append((name, pin if CE_FULL.match(pin) else "5:%s-*" % pin))
            else:
                wanted.append((name, None))
        wanted.append(("iptables", None))  # a Recommends of docker-ce that dockerd cannot do without
    if host.get("apparmor") == "enabled":
        wanted.append(("apparmor", None))  # dockerd loads its profile with apparmor_parser
    wanted.append(("python3-requests", None))
    wanted.append(("python3-docker", None))  # the Docker SDK for Python: the gateway role's host modules
    return wanted


def _foreign_engine(v, installed, errors):
    source = v["docker_install_source"]
    foreign = ["%s %s" % (n, installed[n]) for n in FOREIGN[source] if installed.get(n)]
    if foreign:
        other = "docker_ce" if source == "distro" else "distro"
        errors.append(
            "docker_install_source is %s, but Docker Engine from another source is installed (%s); installing %s would "
            "remove it and stop its containers. Set docker_install_source: none to keep that engine (or %s if that is "
            "where it came from)"
            % (source, ", ".join(foreign), "docker.io" if source == "distro" else "docker-ce", other)
        )
    return bool(foreign)


def _spec(name, ver):
    return name if ver is None else "%s=%s" % (name, ver)


def plan_packages(v, host, errors, warnings):
    """The package specifications to install, ``name`` or ``name=version``: only the missing ones (or those at another
    pinned version) when the host's packages are known (``host['packages']``, a mapping of name to version)."""
    installed = host.get("packages")
    if v["docker_install_source"] == "none":
        if installed is not None and not installed.get("python3-docker"):
            warnings.append(
                "docker_install_source is none: python3-docker is not installed; the gateway role's modules need "
                "the Docker SDK for Python on this host"
            )
        return []
    wanted = _wanted(v, host)
    if installed is None:
        return [_spec(name, ver) for name, ver in wanted]
    if _foreign_engine(v, installed, errors):
        return []
    missing = []
    for name, ver in wanted:
        have = installed.get(name)
        if not have:
            missing.append(_spec(name, ver))
        elif ver is not None:
            prefix = ver[:-1] if ver.endswith("*") else None
            if not (have == ver or (prefix and have.startswith(prefix))):
                missing.append(_spec(name, ver))
    return missing


def engine_version(v, host, engine):
    """The version (a tuple) of the engine this host runs, or will run once the packages are installed: the running
    engine's, else the installed engine package's, else the pinned or candidate version apt would install; None when
    none is known."""
    if engine.get("running"):
        return version_tuple(engine.get("version"))
    main = engine_packages(v["docker_install_source"])[:1]
    if not main:
        return None
    name = main[0]
    installed = (host.get("packages") or {}).get(name)
    if installed:
        return version_tuple(installed)
    if v["docker_install_source"] == "docker_ce" and v["docker_ce_version"]:
        return version_tuple(v["docker_ce_version"])
    return version_tuple((host.get("candidates") or {}).get(name))


def plan_repo(v, host, errors):
    """Docker's apt repository for docker_install_source docker_ce: URL, key, deb822 sources text; None otherwise."""
    if v["docker_install_source"] != "docker_ce" or host.get("distribution") is None:
        return None
    dist = str(host.get("distribution")).lower()
    arch = _ARCH.get(str(host.get("architecture") or ""))
    if arch is None:
        errors.append(
            "docker_install_source docker_ce: no Docker CE packages for architecture %s" % host.get("architecture")
        )
        return None
    if host.get("legacy_repo_file"):
        errors.append(
            "docker_install_source docker_ce: /etc/apt/sources.list.d/docker.list already defines Docker's repository "
            "(apt refuses two Signed-By values for one repository); remove it, the role writes docker.sources"
        )
    base = (v["docker_ce_repo_url"] or "https://download.docker.com/linux").rstrip("/")
    url = "%s/%s" % (base, dist)
    sources = (
        "# Managed by apim.selfhosted.docker\n"
        "Types: deb\n"
        "URIs: %s\n"
        "Suites: %s\n"
        "Components: stable\n"
        "Architectures: %s\n"
        "Signed-By: %s\n" % (url, host.get("distribution_release"), arch, REPO_KEY)
    )
    return {
        "url": url,
        "key_url": url + "/gpg",
        "key_path": REPO_KEY,
        "key_present": bool(host.get("repo_key_exists")),
        "keyring_dir_present": bool(host.get("keyring_dir_exists")),
        "sources_path": REPO_SOURCES,
        "sources": sources,
    }
