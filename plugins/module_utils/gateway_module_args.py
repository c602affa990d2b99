# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of the validated plan, shared by the host modules that run gateway containers
(documented once in the ``apim.selfhosted.gateway_plan`` doc fragment)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_PORT = dict(
    host_ip=dict(type="str", required=True),
    host_port=dict(type="int", required=True),
    container_port=dict(type="int", required=True),
    protocol=dict(type="str", default="tcp", choices=["tcp", "udp"]),
)
_MOUNT = dict(
    source=dict(type="str", required=True),
    target=dict(type="str", required=True),
    read_only=dict(type="bool", default=False),
)
_HEALTHCHECK = dict(
    test=dict(type="list", elements="str", required=True),
    interval=dict(type="str"),
    timeout=dict(type="str"),
    start_period=dict(type="str"),
    retries=dict(type="int"),
)
CONTAINER = dict(
    name=dict(type="str", required=True),
    previous_name=dict(type="str", required=True),
    env_file=dict(type="str", required=True),
    user=dict(type="str", required=True),
    ports=dict(type="list", elements="dict", options=_PORT, default=[]),
    mounts=dict(type="list", elements="dict", options=_MOUNT, default=[]),
    restart_policy=dict(type="str", default="unless-stopped", choices=["unless-stopped", "always"]),
    memory=dict(type="int", required=True),
    cpus=dict(type="float", required=True),
    pids_limit=dict(type="int", required=True),
    stop_timeout=dict(type="int", default=60),
    log_driver=dict(type="str", default="json-file"),
    log_options=dict(type="dict", default={}),
    healthcheck=dict(type="dict", options=_HEALTHCHECK, required=True),
    etc_hosts=dict(type="dict", default={}),
    dns_servers=dict(type="list", elements="str", default=[]),
    labels=dict(type="dict", default={}),
    status_path=dict(type="str", required=True),
    ready_url=dict(type="str", required=True),
    ready_timeout=dict(type="int", default=180),
    log_lines=dict(type="int", default=40),
)
ENV = dict(
    key=dict(type="str", required=True, no_log=False),
    value=dict(type="str", required=True),
    secret=dict(type="bool", default=False, no_log=False),
)
SECRETS = dict(
    token=dict(type="str", no_log=True),
    client_secret=dict(type="str", no_log=True),
)

PLAN_ARGS = dict(
    image=dict(type="str", required=True),
    container=dict(type="dict", options=CONTAINER, required=True),
    env=dict(type="list", elements="dict", options=ENV, required=True),
    secrets=dict(type="dict", options=SECRETS, default={}, no_log=False),
    secret_digest=dict(type="str", required=True, no_log=False),
)

# The gateway_container module: the plan, and what only it takes.
CONTAINER_MODULE_ARGS = dict(PLAN_ARGS)
CONTAINER_MODULE_ARGS.update(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    backup=dict(
        type="dict",
        required=True,
        options=dict(
            enabled=dict(type="bool", required=True),
            path=dict(type="str", required=True),
            owner=dict(type="int", default=1001),
            group=dict(type="int", default=1001),
            remove=dict(type="bool", default=False),
        ),
    ),
    prove=dict(type="bool", default=False),
    proof_timeout=dict(type="int", default=90),
    proven_at=dict(type="str"),
    legacy_containers=dict(type="list", elements="str", default=[]),
    remove_legacy=dict(type="bool", default=True),
    certificate_file=dict(
        type="dict",
        options=dict(
            path=dict(type="str", required=True),
            owner=dict(type="int", default=1001),
            mode=dict(type="str", default="0400"),
            digest=dict(type="str", default="", no_log=False),
        ),
    ),
    certificate=dict(type="str", no_log=True),
    docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
)
