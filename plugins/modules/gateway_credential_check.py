#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_credential_check
short_description: Prove a gateway's credentials with a throwaway container before any real gateway gets them
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Starts a throwaway gateway container from the validated plan with the given secrets - the same container spec
    builder and hardening as the real gateway, but without the configuration backup, published ports,
    neighborhood or restart policy - and waits until its status path answers 200 on the container's own address.
  - Without a backup a gateway can only get there by downloading its configuration, that is when the Configuration
    API (and, for Entra app authentication, Microsoft Entra) accepts the credentials. The readiness of the real
    container cannot tell - with a backup it answers 200 from the backup when its credentials are refused (fail
    static).
  - The throwaway container (C(<name>-credcheck), label C(io.apim.selfhosted.role=credential-check)) is removed in
    every case. No env-file is written; the secrets go to the engine only.
  - Reports RV(proven) and, when not proven, RV(reason) and the container's last log lines; it fails only when it
    cannot run the check at all.
  - With O(expect=refused) it proves the opposite, for example that a token of a regenerated key is revoked - it
    succeeds only when the log shows that the Configuration API or Entra refused the credentials (401, 403, 404 or
    an C(AADSTS) code), and fails when the gateway loaded its configuration or the log does not say.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - apim.selfhosted.docker_host
  - apim.selfhosted.gateway_plan
options:
  timeout:
    description: Seconds the throwaway gateway gets to download its configuration.
    type: int
    default: 90
  expect:
    description:
      - V(accepted) - report whether the credentials are accepted (RV(proven)).
      - V(refused) - fail unless the Configuration API or Entra definitely refuses them.
    type: str
    choices: [accepted, refused]
    default: accepted
attributes:
  platform:
    platforms: posix
  check_mode:
    support: partial
    details: The check starts a container; in check mode it does not run and RV(proven) is null.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Prove the new token
  apim.selfhosted.gateway_credential_check:
    image: "{{ gateway_plan.image }}"
    container: "{{ gateway_plan.container }}"
    env: "{{ gateway_plan.env }}"
    secret_digest: "{{ gateway_plan.secret_digest }}"
    secrets:
      token: "{{ new_token }}"
  register: proof
"""

RETURN = r"""
proven:
  description: The throwaway gateway loaded its configuration (null in check mode).
  returned: always
  type: bool
seconds:
  description: Seconds from its start until it answered 200, or until the check gave up.
  returned: always
  type: float
proven_at:
  description:
    - When the credentials were proven (UTC), for O(apim.selfhosted.gateway_container#module:proven_at).
  returned: when proven
  type: str
reason:
  description:
    - What refused the credentials, as far as the throwaway gateway's log tells (the Configuration API's 401, 403 or
      404, an Entra C(AADSTS) code, an unreachable endpoint), else that the log does not say.
  returned: when not proven
  type: str
detail:
  description: Why the wait ended (the timeout, or the container exited).
  returned: when not proven
  type: str
logs:
  description: The throwaway gateway's last log lines when the credentials were not proven.
  returned: when not proven
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_diagnose import DEFINITE  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import (  # noqa: E402
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    Engine,
    EngineError,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_module_args import PLAN_ARGS  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (  # noqa: E402
    PlanError,
    check_secrets,
    render_env,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_proof import prove  # noqa: E402


def main():
    args = dict(PLAN_ARGS)
    args.update(
        timeout=dict(type="int", default=90),
        docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
        expect=dict(type="str", choices=["accepted", "refused"], default="accepted"),
    )
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    p = module.params
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    if module.check_mode:
        module.exit_json(changed=False, proven=None, seconds=0.0)
    try:
        check_secrets(p["env"], p["secrets"], p["secret_digest"])
        pairs = render_env(p["env"], p["secrets"])
        engine = Engine.connect(p["docker_host"])
        if engine.image(p["image"]) is None:
            raise PlanError("the image %s is not on this host" % p["image"])
        result = prove(engine, p["container"], pairs, p["image"], p["timeout"])
    except (EngineError, PlanError) as exc:
        module.fail_json(msg=str(exc))
    if p["expect"] == "refused" and result["proven"]:
        module.fail_json(
            msg="a gateway started with these credentials loaded its configuration: they are not refused", **result
        )
    if p["expect"] == "refused" and not result["reason"].startswith(DEFINITE):
        module.fail_json(msg="the credentials were not proven refused: %s" % result["reason"], **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
