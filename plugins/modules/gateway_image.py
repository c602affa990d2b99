#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_image
short_description: Make the gateway image available on a host (pull, load a tarball, or check that it is preloaded)
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Looks the image up in the host's engine. When it is there, nothing else happens (one engine call).
  - Otherwise, by O(source) - V(pull) pulls it from its registry (with O(registry_username) and O(registry_password)
    when given; the credentials go to the engine for this pull only and are not stored on the host); V(tarball)
    loads O(tarball), a C(docker save) archive already on the host, checks that it held the image and removes it,
    or returns RV(tarball_needed) when the archive is not on the host yet (the role then copies it and calls the
    module again); V(preloaded) fails, naming the image.
  - With O(engine_required=false) a host where no engine answers yet (a fresh host before the docker role) is not
    an error - RV(engine) is false and nothing happens; the fleet playbooks stage images that way.
  - Talks to the engine with the Docker SDK for Python; no docker CLI.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - apim.selfhosted.docker_host
options:
  name:
    description:
      - The image reference - C(repository:tag), C(repository@sha256:<digest>) or C(repository:tag@sha256:<digest>).
        With a digest the engine pulls and finds the image by the digest (the tag is then only a label).
    type: str
    required: true
  source:
    description: Where the image comes from when it is missing.
    type: str
    choices: [pull, tarball, preloaded]
    default: pull
  tarball:
    description: Host path of the C(docker save) archive, for O(source=tarball). Removed once loaded.
    type: str
  container:
    description:
      - The gateway container's name. Its credential and image facts are returned as RV(running), so that a play can
        tell what the host runs without another round trip (the fleet playbooks decide from it which new
        credentials to prove).
    type: str
  registry_username:
    description: Registry user name for the pull.
    type: str
  registry_password:
    description: Registry password for the pull. Never logged.
    type: str
  registry_url:
    description: The registry the credentials are for (default - the registry of O(name)).
    type: str
  engine_required:
    description: Fail when no engine answers (V(true)), or report RV(engine=false) (V(false)).
    type: bool
    default: true
  transfer_timeout:
    description:
      - Seconds to wait for the engine's answer during a pull or a load. The engine answers a load only once the
        whole archive is in (a gateway image is a few hundred MB); a busy edge host can take minutes.
    type: int
    default: 900
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: Looks the image up; reports a pull or load as a change without doing it.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Make the gateway image available
  apim.selfhosted.gateway_image:
    name: mcr.microsoft.com/azure-api-management/gateway:2.12.3
  register: gateway_image_result
"""

RETURN = r"""
present:
  description: The image is on the host at the end of the run (or would be, in check mode after a pull).
  returned: always
  type: bool
engine:
  description: An engine answered.
  returned: always
  type: bool
image_id:
  description: The image id, when it is on the host.
  returned: when present
  type: str
running:
  description: What the O(container) runs, when it exists (else empty).
  returned: always
  type: dict
  contains:
    image_id:
      description: The id of the image it runs.
      type: str
    auth_digest:
      description: The digest of its credential settings (label C(io.apim.selfhosted.auth-digest)), or null.
      type: str
    proven_at:
      description: When its credentials were proven (label C(io.apim.selfhosted.credentials-proven-at)), or null.
      type: str
tarball_needed:
  description: O(source=tarball) and neither the image nor O(tarball) is on the host.
  returned: always
  type: bool
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import (  # noqa: E402
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    Engine,
    EngineError,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (  # noqa: E402
    LABEL_AUTH_DIGEST,
    LABEL_PROVEN_AT,
)


def split_ref(ref):
    """``(repository, tag or digest)`` of a reference: the digest when there is one (the engine pulls by it and
    ignores a tag beside it), else the tag after the last colon that follows the last slash."""
    name, _sep, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "latest")
    return repository, digest or tag


def stream_error(stream):
    """Read the engine's progress stream to its end; the error it reports, or None."""
    for item in stream or ():
        if isinstance(item, dict) and item.get("error"):
            return str(item["error"]).strip()
    return None


def pull(module, engine, result):
    p = module.params
    repo, tag = split_ref(p["name"])
    auth = None
    if p["registry_username"]:
        auth = {"username": p["registry_username"], "password": p["registry_password"] or ""}
        if p["registry_url"]:
            auth["serveraddress"] = p["registry_url"]
    try:
        problem = stream_error(engine.api.pull(repo, tag=tag, auth_config=auth, stream=True, decode=True))
    except Exception as exc:  # the SDK raises APIError with the registry's answer
        problem = str(exc).splitlines()[0]
    if problem:
        module.fail_json(msg="pulling %s failed: %s" % (p["name"], problem), **result)


def load(module, engine, result):
    p = module.params
    with open(p["tarball"], "rb") as fh:
        try:
            problem = stream_error(engine.api.load_image(fh))
        except Exception as exc:
            problem = str(exc).splitlines()[0]
    if problem:
        module.fail_json(msg="loading %s failed: %s" % (p["tarball"], problem), **result)
    os.unlink(p["tarball"])
    if engine.image(p["name"]) is None:
        module.fail_json(msg="the tarball %s does not hold %s" % (p["tarball"], p["name"]), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            container=dict(type="str"),
            source=dict(type="str", default="pull", choices=["pull", "tarball", "preloaded"]),
            tarball=dict(type="str"),
            registry_username=dict(type="str"),
            registry_password=dict(type="str", no_log=True),
            registry_url=dict(type="str"),
            engine_required=dict(type="bool", default=True),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
            transfer_timeout=dict(type="int", default=900),
        ),
        required_if=[("source", "tarball", ("tarball",))],
        supports_check_mode=True,
    )
    p = module.params
    result = {"changed": False, "present": False, "engine": False, "tarball_needed": False, "running": {}}
    if not HAS_DOCKER and p["engine_required"]:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    try:
        engine = Engine.connect(p["docker_host"]) if HAS_DOCKER else None
        if engine is not None:
            engine.info()
    except EngineError as exc:
        if p["engine_required"]:
            module.fail_json(msg=str(exc), **result)
        engine = None
    if engine is None:
        result["tarball_needed"] = p["source"] == "tarball" and not os.path.isfile(p["tarball"])
        module.exit_json(**result)
    result["engine"] = True
    try:
        result["running"] = running(engine, p["container"])
        run(module, engine, result)
    except EngineError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


def running(engine, name):
    info = engine.container(name) if name else None
    if info is None:
        return {}
    labels = (info.get("Config") or {}).get("Labels") or {}
    return {
        "image_id": info.get("Image"),
        "auth_digest": labels.get(LABEL_AUTH_DIGEST),
        "proven_at": labels.get(LABEL_PROVEN_AT),
    }


def run(module, engine, result):
    p = module.params
    image = engine.image(p["name"])
    if image is None:
        if p["source"] == "preloaded":
            module.fail_json(msg="gateway_image_source is preloaded but %s is not on the host" % p["name"], **result)
        if p["source"] == "tarball" and not os.path.isfile(p["tarball"]):
            result["tarball_needed"] = True
            module.exit_json(**result)
        result["changed"] = True
        if module.check_mode:
            result["present"] = True
            return
        # Only the transfer waits longer: a hung engine still fails the lookups at the usual timeout.
        engine.api.timeout = p["transfer_timeout"]
        if p["source"] == "pull":
            pull(module, engine, result)
        else:
            load(module, engine, result)
        image = engine.image(p["name"])
    elif p["source"] == "tarball" and p["tarball"] and os.path.isfile(p["tarball"]) and not module.check_mode:
        os.unlink(p["tarball"])  # a copy left by an interrupted run
        result["changed"] = True
    result["present"] = image is not None
    if image is not None:
        result["image_id"] = image["Id"]


if __name__ == "__main__":
    main()
