#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_info
short_description: Report a host's self-hosted gateway - container, settings, token expiry, backup, peers, v0/v1 markers
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Reads only, in one module run - the gateway container's state, health, image and instance name; from its
    settings (the running container's, else the env-file's) the Configuration API endpoint, the auth mode and token
    layout, the gateway name and the token's expiry, computed on the host so that the token never reaches the
    controller; the answer of the status URL; the files of the configuration backup and the newest one's age; the
    neighborhood peers the gateway logged as heard; and, for migration, which of the named containers run a v0/v1
    image or talk to the v1 Configuration API.
  - Peers come from C(PeerDiscovered) lines in the container's log, an observation of the gateway's log that no
    document states; without such lines RV(gateway.heard) is empty, and it is null when no neighborhood is configured.
  - Talks to the engine with the Docker SDK for Python; no docker CLI. Without an engine the row says so.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - apim.selfhosted.docker_host
options:
  name:
    description: The gateway container's name.
    type: str
    required: true
  env_file:
    description: Host path of its env-file.
    type: str
    required: true
  ready_url:
    description: The status URL, asked from the host.
    type: str
    required: true
  backup_path:
    description: The backup directory (empty - no backup).
    type: str
    default: ""
  legacy_containers:
    description: More container names to look at for v0/v1 markers (the portal's C(docker run --name ...)).
    type: list
    elements: str
    default: []
  log_lines:
    description: How many of the container's last log lines are searched for heard peers.
    type: int
    default: 5000
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Read this host's gateway
  apim.selfhosted.gateway_info:
    name: "{{ gateway_plan.container.name }}"
    env_file: "{{ gateway_plan.container.env_file }}"
    ready_url: "{{ gateway_plan.container.ready_url }}"
    backup_path: "{{ gateway_plan.backup.path if gateway_plan.backup.enabled else '' }}"
  register: info
"""

RETURN = r"""
gateway:
  description: One row about the host's gateway.
  returned: always
  type: dict
  contains:
    container:
      description: The container's name.
      type: str
    state:
      description: C(running), C(exited), ... C(absent), or C(no docker) when no engine answers.
      type: str
    health:
      description:
        - Docker's health status, or empty; C(unknown) when the healthcheck could not run its command in the image
          (the default check uses the image's BusyBox C(wget), an observation, not a documented part of the image).
      type: str
    image:
      description: The image reference.
      type: str
    image_tag:
      description: Its tag; empty for a reference pinned by digest alone (C(repository@sha256:...)).
      type: str
    image_digest:
      description: The digest of the reference (C(sha256:...)) when it is pinned by one, else empty.
      type: str
    image_id:
      description: The image id.
      type: str
    started:
      description: When the container started.
      type: str
    instance:
      description: The container's host name, which the gateway reports as its instance.
      type: str
    ready:
      description: The status URL answered 200.
      type: bool
    status_code:
      description: The status URL's answer (-1 none).
      type: int
    endpoint:
      description: The Configuration API host.
      type: str
    auth:
      description: C(token), C(azureAdApp) or C(none).
      type: str
    layout:
      description: The token layout (C(GatewayKey) or C(key)).
      type: str
    gateway:
      description: The gateway resource name (C(gateway.name), else the token's gateway id).
      type: str
    token_expiry:
      description: The token's expiry (UTC), or null.
      type: str
    token_days_left:
      description: Whole days until it expires, or null.
      type: int
    token_fingerprint:
      description:
        - The token's gateway, expiry and SHA-256 digest (of the token without the C(GatewayKey ) prefix), or null. It
          holds no secret; M(apim.selfhosted.gateway_key_info) tells from it which gateway key signs the token.
      type: dict
    backup_files:
      description:
        - Files in the backup directory (at every level, whatever their names - Microsoft documents the mount, not
          its layout), or null when there is no directory to read.
      type: int
    backup_newest:
      description: Modification time of the newest of them (UTC), or null.
      type: str
    backup_age_seconds:
      description: Its age in seconds, or null.
      type: int
    neighborhood:
      description: The configured C(neighborhood.host), or empty.
      type: str
    heard:
      description: Instance names of the peers heard, or null without a neighborhood.
      type: list
      elements: str
    legacy:
      description: The looked-at containers that exist, each C(name), C(image), C(tag), C(running), C(reasons).
      type: list
      elements: dict
    reasons:
      description: Why this host needs the migration to v2 (empty - it does not).
      type: list
      elements: str
    env_file_present:
      description: The env-file exists.
      type: bool
    credentials_proven_at:
      description:
        - When the running gateway's credentials were proven (UTC) - by a throwaway gateway without the backup, or by
          its own start without a backup to fall back on - or null when that is not known (then its readiness may
          come from the backup).
      type: str
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_facts as facts  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import (  # noqa: E402
    HAS_DOCKER,
    Engine,
    EngineError,
    http_status,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (  # noqa: E402
    LABEL_PROVEN_AT,
    parse_env_text,
)


def env_settings(info, env_file):
    """The settings the gateway runs with: the container's environment, else the env-file."""
    if info:
        return parse_env_text("\n".join((info.get("Config") or {}).get("Env") or []))
    try:
        with open(env_file, "r") as fh:
            return parse_env_text(fh.read())
    except (IOError, OSError):
        return {}


def container_row(engine, p):
    row = {"container": p["name"], "state": "no docker", "health": "", "image": "", "image_tag": "", "image_digest": "",
           "image_id": "", "started": "", "instance": "", "legacy": [], "reasons": [],
           "credentials_proven_at": None}  # fmt: skip
    if engine is None:
        return row, None
    info = engine.container(p["name"])
    if info is None:
        row["state"] = "absent"
        return row, None
    state = info.get("State") or {}
    image = (info.get("Config") or {}).get("Image") or ""
    labels = (info.get("Config") or {}).get("Labels") or {}
    row.update(
        credentials_proven_at=labels.get(LABEL_PROVEN_AT),
        state=state.get("Status") or "",
        health=facts.health(state),
        image=image,
        image_tag=facts.image_tag(image),
        image_digest=facts.image_digest(image),
        image_id=info.get("Image") or "",
        started=state.get("StartedAt") or "",
        instance=(info.get("Config") or {}).get("Hostname") or "",
    )
    return row, info


def legacy_rows(engine, p, info, settings):
    rows = []
    names = [p["name"]] + [n for n in p["legacy_containers"] if n and n != p["name"]]
    for name in names:
        other = info if name == p["name"] else engine.container(name)
        if not other:
            continue
        image = (other.get("Config") or {}).get("Image") or ""
        env = settings if name == p["name"] else env_settings(other, "")
        rows.append({"name": name, "image": image, "tag": facts.image_tag(image),
                     "running": bool((other.get("State") or {}).get("Running")),
                     "reasons": facts.v1_reasons(name, image, env)})  # fmt: skip
    return rows


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            env_file=dict(type="str", required=True),
            ready_url=dict(type="str", required=True),
            backup_path=dict(type="str", default=""),
            legacy_containers=dict(type="list", elements="str", default=[]),
            log_lines=dict(type="int", default=5000),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    engine = None
    if HAS_DOCKER:
        try:
            engine = Engine.connect(p["docker_host"])
            engine.info()
        except EngineError:
            engine = None
    try:
        row, info = container_row(engine, p)
        settings = env_settings(info, p["env_file"])
        row.update(facts.auth_facts(settings))
        row["endpoint"] = facts.endpoint_host(settings)
        code = http_status(p["ready_url"]) if info else None
        row.update(ready=code == 200, status_code=code if code is not None else -1)
        row.update(facts.backup_files(p["backup_path"]))
        row["neighborhood"] = settings.get("neighborhood.host", "")
        lines = engine.logs(info["Id"], p["log_lines"]) if info and row["neighborhood"] else []
        row["heard"] = facts.peers(lines) if row["neighborhood"] else None
        if engine is not None:
            row["legacy"] = legacy_rows(engine, p, info, settings)
        row["reasons"] = [r for item in row["legacy"] for r in item["reasons"]]
        row["env_file_present"] = os.path.isfile(p["env_file"])
    except EngineError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, gateway=row)


if __name__ == "__main__":
    main()
