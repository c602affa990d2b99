# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds a host's TCP and UDP ports: a container of the Docker engine, or a process.

The engine is asked through the Docker SDK for Python (Debian's python3-docker) for the ports its running
containers publish; /proc gives the sockets of this network namespace and the processes that hold them. Without
the SDK or a reachable engine only /proc answers: a published port then shows as Docker's ``docker-proxy``
process, or not at all when the engine publishes it with NAT rules only (``userland-proxy: false``).
No command is run and nothing is changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket

try:
    import docker

    HAS_DOCKER_SDK = True
except ImportError:  # degrade to /proc alone
    HAS_DOCKER_SDK = False

WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 - compares addresses, binds nothing
TCP_LISTEN = "0A"
_PORT = re.compile(r"^(\d+)(?:/(tcp|udp))?$")


def parse_port(value):
    """(number, "tcp"|"udp") of 80, "80", "80/tcp", "4291/udp" or (4291, "udp"); ValueError otherwise."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        value = "%s/%s" % tuple(value)
    match = _PORT.match(str(value).strip().lower())
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ValueError("ports: %r must be a port number, optionally followed by /tcp or /udp" % (value,))
    return int(match.group(1)), match.group(2) or "tcp"


def overlaps(bound, wanted):
    """Whether a socket bound to address `bound` blocks a bind to `wanted` on the same port."""
    if bound in WILDCARDS or wanted in WILDCARDS:
        return True
    if bound.startswith("::ffff:"):
        bound = bound[7:]
    return bound == wanted


# ---------------------------------------------------------------- the engine


def engine_ports(client=None, timeout=5):
    """({(port, proto): [(name, id, host_ip)]} of running containers, None) or (None, why the engine is unknown)."""
    own = client is None
    if own:
        if not HAS_DOCKER_SDK:
            return None, "the Docker SDK for Python (python3-docker) is not installed"
        try:
            client = docker.from_env(version="auto", timeout=timeout)
        except Exception as exc:  # DockerException, or the socket's OSError; the SDK wraps both inconsistently
            return None, "the Docker engine does not answer (%s)" % exc
    try:
        containers = client.api.containers()
    except Exception as exc:  # as above: the engine went away or refuses this user
        return None, "the Docker engine does not answer (%s)" % exc
    finally:
        if own:
            client.api.close()
    published = {}
    for item in containers:
        name = (item.get("Names") or ["/" + item["Id"][:12]])[0].lstrip("/")
        for port in item.get("Ports") or []:
            if not port.get("PublicPort"):
                continue  # exposed, not published
            key = (int(port["PublicPort"]), port.get("Type", "tcp"))
            entry = (name, item["Id"], port.get("IP") or "0.0.0.0")  # noqa: S104 - what the engine reports
            published.setdefault(key, [])
            if entry not in published[key]:
                published[key].append(entry)
    return published, None


# ---------------------------------------------------------------- /proc


def hex_address(value, family):
    raw = bytes.fromhex(value)
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def proc_sockets(proto, proc="/proc"):
    """Yield (address, port, inode) of listening TCP or bound UDP sockets in this network namespace."""
    for family, path in ((4, "%s/net/%s" % (proc, proto)), (6, "%s/net/%s6" % (proc, proto))):
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # TCP: only a listener holds the port; UDP: any socket bound to it, connected or not.
            if len(fields) < 10 or (proto == "tcp" and fields[3] != TCP_LISTEN):
                continue
            address_hex, port_hex = fields[1].split(":")
            yield hex_address(address_hex, family), int(port_hex, 16), fields[9]


def socket_owner(inode, proc="/proc"):
    """(pid, command) of the process that holds socket inode, or (None, None) when not visible."""
    needle = "socket:[%s]" % inode
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = "%s/%s/fd" % (proc, pid)
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("%s/%s" % (fd_dir, fd)) == needle:
                    return int(pid), process_command(pid, proc)
            except OSError:
                continue
    return None, None


def process_command(pid, proc="/proc"):
    """The command line of pid (at most 200 characters), its comm when the line is empty, None when gone."""
    try:
        with open("%s/%s/cmdline" % (proc, pid), "rb") as handle:
            parts = [p.decode("utf-8", "replace") for p in handle.read().split(b"\0") if p]
        if parts:
            return " ".join(parts)[:200]
        with open("%s/%s/comm" % (proc, pid)) as handle:
            return handle.read().strip()
    except OSError:
        return None


def process_name(command):
    """The program's base name from a command line (``docker-proxy``, ``python3``)."""
    return os.path.basename(command.split()[0]) if command else None


# ---------------------------------------------------------------- the contract


def describe(holder):
    """One line for a person: ``container NAME (Docker engine)``, ``pid N (COMMAND)`` or an unseen process."""
    if holder["kind"] == "container":
        return "container %s (Docker engine)" % holder["name"]
    if holder["pid"] is None:
        return "a process this user cannot see (socket inode %s; run with become to name it)" % holder["inode"]
    return "pid %s (%s)" % (holder["pid"], holder["command"])


def _ignored(name, container_id, ignore):
    for item in ignore:
        item = str(item).lstrip("/")
        if item == name or item == container_id or (len(item) >= 12 and container_id.startswith(item)):
            return True
    return False


def port_holders(ports, bind_address="0.0.0.0", ignore_containers=(), timeout=5, client=None):  # noqa: S104
    """Who holds each of the host ports a new listener on bind_address wants.

    ports: host ports as 80, "80", "80/tcp", "4291/udp" or (4291, "udp"); a bad item raises ValueError whose
        message starts with ``ports:``.
    bind_address: the host address the ports would be published on; "0.0.0.0" or "::" mean every address. A
        holder counts when either side is a wildcard or both are the same address.
    ignore_containers: names (a leading "/" is allowed) or ids (full, or a prefix of 12 or more characters) of
        containers whose ports are not held against the caller, e.g. the gateway being replaced.
    timeout: seconds for the engine's answer.
    client: a docker.DockerClient to ask instead of one made from the environment (DOCKER_HOST or the local
        socket).

    Returns {"engine_error": None when the engine answered, else why it could not be asked,
             "ports": [{"port": int, "proto": "tcp"|"udp", "holders": [holder], "ignored": [holder]}]}
    with one entry per distinct requested port, in request order. A holder is a dict:
      {"kind": "container", "name", "id", "address", "pid": None, "command": None, "inode": None}
          a running container of the engine that publishes the port (through docker-proxy or NAT rules alike);
      {"kind": "process", "name", "id": None, "address", "pid", "command", "inode"}
          a process with a TCP listener or a bound UDP socket on the port, found in /proc; pid, name and command
          are None when the process is not visible to this user (run as root to see every process).
    Docker's own docker-proxy processes are left out when the engine answered (the container is named instead).
    Only the caller's network namespace is read; nothing is changed and no command is run.
    """
    wanted = []
    for item in ports:
        port = parse_port(item)
        if port not in wanted:
            wanted.append(port)
    published, engine_error = engine_ports(client, timeout) if wanted else ({}, None)
    sockets = {proto: list(proc_sockets(proto)) for proto in set(p for _n, p in wanted)}
    out = []
    for number, proto in wanted:
        entry = {"port": number, "proto": proto, "holders": [], "ignored": []}
        for name, container_id, ip in (published or {}).get((number, proto), []):
            if overlaps(ip, bind_address):
                holder = {"kind": "container", "name": name, "id": container_id, "address": ip}
                holder.update(pid=None, command=None, inode=None)
                entry["ignored" if _ignored(name, container_id, ignore_containers) else "holders"].append(holder)
        for address, bound_port, inode in sockets[proto]:
            if bound_port != number or not overlaps(address, bind_address):
                continue
            pid, command = socket_owner(inode)
            if published is not None and process_name(command) == "docker-proxy":
                continue  # the engine named the container above
            holder = {"kind": "process", "name": process_name(command), "id": None, "address": address}
            holder.update(pid=pid, command=command, inode=inode)
            entry["holders"].append(holder)
        out.append(entry)
    return {"engine_error": engine_error, "ports": out}
