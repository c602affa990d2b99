# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The validated plan of a gateway container (the apim.selfhosted.gateway_settings filter's result).
    DOCUMENTATION = r"""
options:
  image:
    description: The image reference C(repository:tag) (the plan's C(image)). It must be on the host.
    type: str
    required: true
  container:
    description:
      - The plan's C(container) part, as the C(apim.selfhosted.gateway_settings) filter returns it (the role passes
        C(gateway_plan.container)). Every container runs as a non-root user with all capabilities dropped,
        C(no-new-privileges), not privileged, with a writable root filesystem, whatever this says.
    type: dict
    required: true
    suboptions:
      name:
        description: The container's name.
        type: str
        required: true
      previous_name:
        description: The name the running container is kept under during a replacement.
        type: str
        required: true
      env_file:
        description: Host path of the env-file (its directory is created as root, mode 0700).
        type: str
        required: true
      user:
        description: C(uid[:gid]) the gateway runs as.
        type: str
        required: true
      ports:
        description: Published ports.
        type: list
        elements: dict
        default: []
        suboptions:
          host_ip:
            description:
              - Host address the port is published on. C(neighbours) (the plan's UDP neighborhood ports by default)
                - the host's address on the network of the addresses that C(neighborhood.host) resolves to, which
                M(apim.selfhosted.gateway_container) finds on the host.
            type: str
            required: true
          host_port:
            description: Host port.
            type: int
            required: true
          container_port:
            description: Container port (8080 HTTP, 8081 HTTPS, the UDP neighborhood ports).
            type: int
            required: true
          protocol:
            description: C(tcp) or C(udp).
            type: str
            default: tcp
            choices: [tcp, udp]
      mounts:
        description: Bind mounts (the configuration backup at C(/apim/config), CA bundles, certificates).
        type: list
        elements: dict
        default: []
        suboptions:
          source:
            description: Host path.
            type: str
            required: true
          target:
            description: Container path.
            type: str
            required: true
          read_only:
            description: Mount read-only.
            type: bool
            default: false
      restart_policy:
        description: Docker restart policy.
        type: str
        default: unless-stopped
        choices: [unless-stopped, always]
      memory:
        description: Memory limit in bytes (also the memory+swap limit).
        type: int
        required: true
      cpus:
        description: CPU limit.
        type: float
        required: true
      pids_limit:
        description: Process limit.
        type: int
        required: true
      stop_timeout:
        description: Seconds the gateway gets to drain on stop.
        type: int
        default: 60
      log_driver:
        description: Docker log driver.
        type: str
        default: json-file
      log_options:
        description: Log driver options.
        type: dict
        default: {}
      healthcheck:
        description: Docker healthcheck (C(test) V(["NONE"]) turns it off); durations such as C(30s).
        type: dict
        required: true
        suboptions:
          test:
            description: The command, starting with C(CMD) or C(CMD-SHELL), or V(["NONE"]).
            type: list
            elements: str
            required: true
          interval:
            description: Time between checks.
            type: str
          timeout:
            description: Time a check may take.
            type: str
          start_period:
            description: Start period.
            type: str
          retries:
            description: Failures before unhealthy.
            type: int
      etc_hosts:
        description: Host name to address entries for the container's C(/etc/hosts).
        type: dict
        default: {}
      dns_servers:
        description: DNS servers of the container.
        type: list
        elements: str
        default: []
      labels:
        description: Labels; C(io.apim.selfhosted.role) marks the containers this collection created.
        type: dict
        default: {}
      status_path:
        description: The gateway's status path on its HTTP port 8080.
        type: str
        required: true
      ready_url:
        description: URL on the host that answers 200 once the gateway has loaded its configuration.
        type: str
        required: true
      ready_timeout:
        description: Seconds a new container gets to answer 200.
        type: int
        default: 180
      log_lines:
        description: Container log lines returned when a container does not become ready.
        type: int
        default: 40
  env:
    description:
      - The env-file lines (the plan's C(env)), each C(key), C(value) and C(secret). The value of a secret line is a
        template that names the secret (C({token}), C({client_secret})), filled in from O(secrets).
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description: Setting name.
        type: str
        required: true
      value:
        description: Setting value, or a template for a secret line.
        type: str
        required: true
      secret:
        description: Whether the value is a template of a secret.
        type: bool
        default: false
  secrets:
    description: The secrets the env-file templates name. Never logged, never returned.
    type: dict
    default: {}
    suboptions:
      token:
        description: The gateway access token (with or without the C(GatewayKey ) prefix).
        type: str
      client_secret:
        description: The Entra app's client secret.
        type: str
  secret_digest:
    description:
      - The plan's C(secret_digest). The module refuses secrets other than the ones the controller validated.
    type: str
    required: true
"""
