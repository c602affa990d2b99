# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker engine as the gateway's host modules use it, through the Docker SDK for Python (``docker``, Debian's
python3-docker), and the HTTP readiness probe of a gateway.

The SDK's low-level ``APIClient`` works with the versions on Debian 12 (5.0) and PyPI (7.x). Nothing here shells
out to the docker CLI.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import traceback

try:
    import docker
    from docker import errors as docker_errors
    from docker import types as docker_types

    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.request import ProxyHandler, build_opener

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class EngineError(Exception):
    """The engine refused or could not be reached; the message names what was asked."""


def http_status(url, timeout=5):
    """The HTTP status of GET ``url`` (no proxy: it is the host's own gateway), or None when nothing answers."""
    opener = build_opener(ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status if hasattr(resp, "status") else resp.getcode()
    except HTTPError as exc:
        return exc.code
    except Exception:  # refused, reset, timeout, DNS: all mean "not answering"
        return None


def wait_ready(url, timeout, alive=None, interval=0.25, clock=time.monotonic, sleep=time.sleep):
    """Wait until ``url`` answers 200; ``alive()`` may end the wait early by returning a reason (a container that
    exited). Returns ``(True, None)`` or ``(False, reason)``. The URL is on this host: a short interval costs
    little and is what a replacement's downtime and a first converge wait for."""
    deadline = clock() + timeout
    seen = None
    while True:
        seen = http_status(url, timeout=min(5, max(1, timeout)))
        if seen == 200:
            return True, None
        if alive is not None:
            reason = alive()
            if reason:
                return False, reason
        if clock() >= deadline:
            return False, "no 200 on %s within %d s (last answer: %s)" % (url, timeout, seen or "none")
        sleep(interval)


class Engine:
    """A thin layer over ``docker.APIClient``: each method is one engine call, with errors as EngineError."""

    def __init__(self, base_url=DEFAULT_SOCKET, timeout=60):
        if not HAS_DOCKER:
            raise EngineError("the Docker SDK for Python is not installed on this host (Debian: python3-docker)")
        self.api = docker.APIClient(base_url=base_url, version="auto", timeout=timeout)

    @staticmethod
    def connect(base_url=DEFAULT_SOCKET, timeout=60):
        """An Engine, or EngineError when the SDK is missing or the engine does not answer."""
        try:
            return Engine(base_url, timeout)
        except EngineError:
            raise
        except Exception as exc:  # the SDK raises DockerException, requests errors, OSError
            raise EngineError("the Docker engine at %s does not answer: %s" % (base_url, exc)) from None

    def _call(self, what, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except docker_errors.NotFound:
            raise
        except Exception as exc:
            raise EngineError("%s: %s" % (what, _brief(exc))) from None

    def info(self):
        return self._call("docker info", self.api.info)

    def container(self, name):
        """``inspect`` of the container with exactly this name, or None."""
        try:
            info = self._call("inspect container %s" % name, self.api.inspect_container, name)
        except docker_errors.NotFound:
            return None
        return info if info.get("Name", "").lstrip("/") == name else None

    def image(self, ref):
        try:
            return self._call("inspect image %s" % ref, self.api.inspect_image, ref)
        except docker_errors.NotFound:
            return None

    def containers(self):
        """Every container (running or not), as the list call reports them (names, labels, ports, state)."""
        return self._call("list containers", self.api.containers, all=True)

    def create(self, request):
        """Create a container from ``gateway_container_spec.create_request``; returns its id."""
        host = dict(request["host"])
        host["mounts"] = [
            docker_types.Mount(m["target"], m["source"], type="bind", read_only=bool(m.get("read_only")))
            for m in host["mounts"]
        ]
        host = {k: v for k, v in host.items() if v is not None}
        config = dict(request["config"])
        config["host_config"] = self._call("host config", self.api.create_host_config, **host)
        name = config["name"]
        return self._call("create container %s" % name, self.api.create_container, **config)["Id"]

    def start(self, ident):
        self._call("start container %s" % ident, self.api.start, ident)

    def stop(self, ident, timeout):
        self._call("stop container %s" % ident, self.api.stop, ident, timeout=timeout)

    def rename(self, ident, name):
        self._call("rename container %s to %s" % (ident, name), self.api.rename, ident, name)

    def remove(self, ident):
        try:
            self._call("remove container %s" % ident, self.api.remove_container, ident, force=True)
        except docker_errors.NotFound:
            pass

    def logs(self, ident, lines):
        """The last ``lines`` lines of a container's output (stdout and stderr), as text lines."""
        if not lines:
            return []
        try:
            raw = self.api.logs(ident, stdout=True, stderr=True, tail=lines)
        except Exception:  # logs are for the message; their absence must not hide the real error
            return []
        return raw.decode("utf-8", "replace").splitlines()[-lines:]

    def state(self, ident):
        """``State`` of a container, or None when it is gone."""
        try:
            return (self._call("inspect container %s" % ident, self.api.inspect_container, ident) or {}).get("State")
        except docker_errors.NotFound:
            return None

    def exited_reason(self, ident):
        """A callable for ``wait_ready``: the reason a container is no longer running, or None."""

        def reason():
            state = self.state(ident)
            if state is None:
                return "the container is gone"
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                return "the container exited with code %s" % state.get("ExitCode")
            return None

        return reason

    def address(self, ident):
        """The container's IP address on its network (for a container without published ports)."""
        info = self._call("inspect container %s" % ident, self.api.inspect_container, ident)
        net = info.get("NetworkSettings") or {}
        if net.get("IPAddress"):
            return net["IPAddress"]
        for item in (net.get("Networks") or {}).values():
            if item.get("IPAddress"):
                return item["IPAddress"]
        return None


def _brief(exc):
    text = getattr(exc, "explanation", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
