# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller's validated plan and the host modules agree on.

The plan that ``gateway_settings.validate`` returns holds no secret: an env-file line whose value is secret is a
template such as ``GatewayKey {token}`` with ``secret: true``, and the plan carries a digest of the secrets it was
validated with. The host modules get the secrets as ``no_log`` options, check them against that digest and render
the env-file with ``render_env``. Both sides import this file, so the rules below exist once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import json
import os
import posixpath

from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import strip_prefix

LABEL_ROLE = "io.apim.selfhosted.role"
LABEL_READY_URL = "io.apim.selfhosted.ready-url"
ROLE_GATEWAY = "gateway"
ROLE_CREDENTIAL_CHECK = "credential-check"
PREVIOUS_SUFFIX = "-previous"
CHECK_SUFFIX = "-credcheck"
BACKUP_MOUNT = "/apim/config"
ENV_DIR = "/etc/apim-gateway"
CONTAINER_HTTP_PORT = 8080
CONTAINER_HTTPS_PORT = 8081

# The secrets an env-file line may name, with the variable each comes from (for messages).
SECRET_NAMES = {"token": "gateway_token", "client_secret": "gateway_azure_ad_client_secret"}
CERTIFICATE_VARIABLE = "gateway_azure_ad_certificate"
CERTIFICATE_MODE = 0o400
# Where a host UDP port of the neighborhood is published: the host's address on the network of the addresses that
# neighborhood.host resolves to, found on the host by the gateway_container module (never 0.0.0.0).
NEIGHBOUR_ADDRESS = "neighbours"

# Directories that a backup path may never be, nor lie under (the engine's own data above all).
SYSTEM_DIRS = tuple(
    "/" + d
    for d in (
        "bin boot dev etc home lib lib32 lib64 libx32 media mnt opt proc root run sbin srv sys tmp usr var "
        "usr/local usr/share var/lib var/log var/cache var/tmp var/run var/spool var/mail var/backups var/local "
        "var/opt var/www"
    ).split()
)
NO_DESCENT = ("/proc", "/sys", "/dev", "/run", "/boot", "/var/lib/docker", "/var/lib/containerd", "/etc", "/usr")


class PlanError(ValueError):
    """The plan or its secrets cannot be used. The message never holds a secret."""


def normalise_secrets(secrets):
    """The secrets as the env-file uses them: the bare token (the template adds ``GatewayKey``)."""
    out = {}
    for name, value in (secrets or {}).items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise PlanError("%s must be a string" % SECRET_NAMES.get(name, name))
        out[name] = strip_prefix(value) if name == "token" else value
    return out


def secret_names(env):
    """The secret names that the env-file lines of a plan use, sorted."""
    names = set()
    for item in env:
        if item.get("secret"):
            names.update(n for n in SECRET_NAMES if "{%s}" % n in item["value"])
    return sorted(names)


def secret_digest(secrets, names):
    """A digest of the named secrets: lets a host module prove it got the secrets the controller validated."""
    secrets = normalise_secrets(secrets)
    picked = {n: secrets.get(n, "") for n in names}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_env(env, secrets):
    """``[(key, value)]`` of the env-file, with the secrets put in. Raises PlanError naming a missing secret."""
    secrets = normalise_secrets(secrets)
    pairs = []
    for item in env:
        value = item["value"]
        if item.get("secret"):
            for name in SECRET_NAMES:
                marker = "{%s}" % name
                if marker in value:
                    if not secrets.get(name):
                        raise PlanError("%s is required for the env-file line %s" % (SECRET_NAMES[name], item["key"]))
                    if any(ch in secrets[name] for ch in ("\n", "\r", "\x00")):
                        raise PlanError("%s contains a line break or NUL" % SECRET_NAMES[name])
                    value = value.replace(marker, secrets[name])
        pairs.append((item["key"], value))
    return pairs


def check_secrets(env, secrets, digest):
    """Fail unless ``secrets`` are the ones the plan was validated with."""
    if secret_digest(secrets, secret_names(env)) != digest:
        raise PlanError(
            "the secrets given to the module are not the ones the controller validated (gateway_token or "
            "gateway_azure_ad_client_secret changed after validation); validate the gateway settings again"
        )


def env_file_text(pairs):
    """The env-file: one KEY=VALUE per line, in the order given (Docker's env-file format)."""
    return "".join("%s=%s\n" % (k, v) for k, v in pairs)


def parse_env_text(text):
    """Docker's env-file format back to a dict (comments and blank lines skipped)."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value
    return out


def certificate_path(env_file):
    """Host path of the Entra app's certificate file: beside the env-file, in the gateway's own directory."""
    return env_file[: -len(".env")] + ".azure-ad-cert" if env_file.endswith(".env") else env_file + ".azure-ad-cert"


def certificate_bytes(value):
    """The certificate file's bytes from the variable: PEM text as given, or a PFX (PKCS#12) given in base64.
    Raises PlanError (never with the value) when it is neither."""
    if not isinstance(value, str) or not value.strip():
        raise PlanError("%s must be the certificate: PEM text, or a PFX file in base64" % CERTIFICATE_VARIABLE)
    if "-----BEGIN" in value:
        text = value.strip() + "\n"
        if "-----BEGIN CERTIFICATE-----" not in text or "PRIVATE KEY-----" not in text:
            raise PlanError(
                "%s: PEM text must hold the certificate and its private key (BEGIN CERTIFICATE, BEGIN PRIVATE KEY)"
                % CERTIFICATE_VARIABLE
            )
        return text.encode("utf-8")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    # A PFX is DER: a SEQUENCE (0x30) with a long-form length.
    if len(data) < 64 or data[0] != 0x30:
        raise PlanError("%s is neither PEM text nor a PFX file in base64 (base64 -w0 app.pfx)" % CERTIFICATE_VARIABLE)
    return data


def certificate_digest(value):
    """SHA-256 of the certificate file's bytes; what the plan carries instead of the certificate."""
    return hashlib.sha256(certificate_bytes(value)).hexdigest()


def backup_path_problem(path, homes=(), docker_root=None):
    """Why ``path`` cannot be a gateway's backup directory, or None. Pure: the controller checks the variable, the
    host module checks the resolved path with the host's home directories and the engine's data root."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "must be an absolute path"
    if path.strip("/") == "":
        return "is / or a system directory"
    if any(ch in path for ch in (":", ",", "\n", "\r", "\x00")) or posixpath.normpath(path) != path.rstrip("/"):
        return "must be a plain, normalised absolute path"
    norm = posixpath.normpath(path)
    if norm == "/" or norm in SYSTEM_DIRS:
        return "is / or a system directory"
    if norm.count("/") < 2:
        return "must be a directory of its own below a top-level directory (e.g. /var/lib/apim-gateway/<name>)"
    for top in NO_DESCENT + ((docker_root,) if docker_root else ()):
        top = posixpath.normpath(top)
        if norm == top or norm.startswith(top + "/"):
            return "lies in %s" % top
    parent = posixpath.dirname(norm)
    if norm.startswith("/home/") and parent == "/home":
        return "is a home directory"
    for home in homes:
        home = posixpath.normpath(home)
        if home not in ("/", "") and (norm == home or home.startswith(norm + "/")):
            return "is (or holds) the home directory %s" % home
    return None


def resolved_backup_problem(path, homes, docker_root):
    """``backup_path_problem`` for the path as it is on this host (symbolic links followed)."""
    problem = backup_path_problem(path, homes, docker_root)
    if problem:
        return problem
    real = os.path.realpath(path)
    if real != path.rstrip("/"):
        problem = backup_path_problem(real, homes, docker_root)
        if problem:
            return "resolves to %s, which %s" % (real, problem)
    return None


# The settings that make up a gateway's credentials: what a proof with a throwaway container covers.
AUTH_KEYS = ("config.service.endpoint", "config.service.auth", "gateway.name")
LABEL_AUTH_DIGEST = "io.apim.selfhosted.auth-digest"
LABEL_PROVEN_AT = "io.apim.selfhosted.credentials-proven-at"


def auth_digest(pairs, certificate=""):
    """A digest of the credential settings (endpoint, auth mode and secrets, gateway name) of rendered env-file
    lines and of the Entra app's certificate (its digest): equal digests mean the same credentials, so a proof of
    one holds for the other."""
    lines = sorted("%s=%s" % (k, v) for k, v in pairs if k.startswith(AUTH_KEYS))
    if certificate:
        lines.append("certificate=%s" % certificate)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
