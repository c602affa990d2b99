#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_container
short_description: Keep a host's self-hosted gateway container on its validated plan, or bring the previous one back
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - One invariant, in one module run - the gateway container on this host matches the plan the controller validated
    (the C(apim.selfhosted.gateway_settings) filter's result, as the C(apim.selfhosted.gateway) role passes it), or
    the previous container is back and serving.
  - Creates the env-file directory (root, 0700) and the backup directory (the gateway's uid and gid 1001, 0770; its
    parent as root 0755 when missing), writes the env-file atomically (root, 0600) only when its digest differs, and
    keeps the previous bytes in memory for a rollback (no backup copy on disk). The Entra app's certificate
    (O(certificate)) is written the same way beside it, owned by the gateway's uid with mode 0400, and mounted
    read-only where the plan says; a new certificate replaces the container.
  - Publishes the UDP neighborhood ports that the plan marks with C(neighbours) on the host's address on the network
    of its neighbours - the source address this host uses to reach each address of C(neighborhood.host), resolved
    as the container resolves it (its extra hosts, then its DNS servers, then the host's resolver). A name that does
    not resolve stops the run before anything changes.
  - Compares the container with the plan (image id, env, user, capabilities, security options, ports, mounts, limits,
    healthcheck, restart policy, log options, labels, extra hosts, DNS, stop timeout, network mode). When nothing
    differs and the status URL answers 200 the run is unchanged.
  - Otherwise stops the running container and keeps it as O(container.previous_name), creates and starts the new
    one and waits for 200 on its status URL, then removes the kept one. On any failure it reads the new container's
    last log lines, removes it, gives the kept container its name back and starts it, restores the env-file bytes,
    waits for the previous container on its own status URL (its C(io.apim.selfhosted.ready-url) label) and fails
    with one message that says which of these happened.
  - Touches only containers it created (label C(io.apim.selfhosted.role=gateway)). A container of the same name that
    this collection did not create stops the run before any change, except one named in O(legacy_containers).
  - A run that was cut off (the controller killed, the engine restarted) leaves at most a kept container; the next
    run puts it back or removes it (the one that serves wins) and removes temporary env-files and the C(~) backups
    of earlier releases.
  - Host ports that another running container publishes stop the run before the gateway is stopped.
  - With O(state=absent) removes the container, the kept one and the env-file, and the backup only with
    O(backup.remove); a backup path that could hurt the host (C(/), system or home directories, the engine's data
    root, a symbolic link to one, a directory that is not the gateway's) is refused before any change.
  - Talks to the engine with the Docker SDK for Python; no docker CLI.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - apim.selfhosted.docker_host
  - apim.selfhosted.gateway_plan
options:
  state:
    description: V(present) runs the gateway of the plan; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description: The plan's C(backup) part.
    type: dict
    required: true
    suboptions:
      enabled:
        description: Whether the backup directory is mounted (it is then created).
        type: bool
        required: true
      path:
        description: Host path of the backup directory.
        type: str
        required: true
      owner:
        description: uid that owns the backup directory.
        type: int
        default: 1001
      group:
        description: gid that owns the backup directory.
        type: int
        default: 1001
      remove:
        description: With O(state=absent), delete the backup directory.
        type: bool
        default: false
  prove:
    description:
      - When the running gateway's credentials (endpoint, auth mode, token or Entra app, gateway name) differ from the
        plan's, prove the new ones first with a throwaway gateway built from the same spec without the backup (see
        C(apim.selfhosted.gateway_credential_check)); refused credentials fail the run before anything changes, with
        what the Configuration API or Entra answered. Without it a gateway with a backup would start from the
        backup and answer 200 although its credentials were refused.
    type: bool
    default: false
  proof_timeout:
    description: Seconds the throwaway gateway of O(prove) gets to download its configuration.
    type: int
    default: 90
  proven_at:
    description:
      - When the plan's credentials were proven (UTC, C(YYYY-MM-DDTHH:MM:SSZ)), by a proof earlier in the play; kept
        in the new container's label C(io.apim.selfhosted.credentials-proven-at), which C(apim.selfhosted.gateway_info)
        reports. Without it the label is kept from the running container with the same credentials, or set when the
        new container can only get ready by downloading its configuration (no backup to start from).
    type: str
  legacy_containers:
    description:
      - Names of gateway containers that this one replaces (v0/v1 gateways found by C(apim.selfhosted.migrate_v2)).
        Running ones are stopped before the new container starts and started again when it never becomes ready;
        once it is ready they are removed (O(remove_legacy)). One of them may carry the gateway's own name.
    type: list
    elements: str
    default: []
  remove_legacy:
    description: Remove the O(legacy_containers) once the new gateway is ready (else they stay, stopped).
    type: bool
    default: true
  certificate_file:
    description:
      - The plan's C(certificate_file) part - where the Entra app's certificate goes on the host (C(path), in the
        env-file's directory), its C(owner) (the gateway's uid), C(mode) and the C(digest) (SHA-256) of the
        certificate the controller validated. An empty digest means no certificate - a file at C(path) is removed.
    type: dict
    suboptions:
      path:
        description: Host path of the certificate file.
        type: str
        required: true
      owner:
        description: uid that owns the file (the gateway's).
        type: int
        default: 1001
      mode:
        description: File mode.
        type: str
        default: "0400"
      digest:
        description: SHA-256 of the certificate file's bytes; empty for none.
        type: str
        default: ""
  certificate:
    description:
      - The Entra app's certificate (C(gateway_azure_ad_certificate) - PEM text, or a PFX in base64), checked against
        C(certificate_file.digest). Never logged, never returned.
    type: str
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: Reads and compares only; reports what would change.
  diff_mode:
    support: full
    details: Shows the fields that differ; env values only of the plan's non-secret settings, never a secret.
notes:
  - Use the C(apim.selfhosted.gateway) role rather than this module directly; the role validates the plan first.
"""

EXAMPLES = r"""
- name: Run the gateway of the validated plan
  apim.selfhosted.gateway_container:
    image: "{{ gateway_plan.image }}"
    container: "{{ gateway_plan.container }}"
    env: "{{ gateway_plan.env }}"
    secret_digest: "{{ gateway_plan.secret_digest }}"
    secrets:
      token: "{{ gateway_token }}"
    backup: "{{ gateway_plan.backup }}"
    certificate_file: "{{ gateway_plan.certificate_file }}"
  register: gateway_result
"""

RETURN = r"""
replaced:
  description: A new container was started (and the previous one removed).
  returned: always
  type: bool
rolled_back:
  description: The new container never became ready and the previous one was put back (the task then fails).
  returned: always
  type: bool
ready:
  description: The container answers 200 on its status URL at the end of the run.
  returned: always
  type: bool
differences:
  description: The fields in which the container differed from the plan (C(env:<key>) for settings).
  returned: always
  type: list
  elements: str
env_file_changed:
  description: The env-file was (or would be) rewritten.
  returned: always
  type: bool
certificate_changed:
  description: The Entra app's certificate file was (or would be) written or removed.
  returned: when it changed
  type: bool
recovered:
  description: What was left over from an interrupted run and put right (kept containers, temporary env-files).
  returned: always
  type: list
  elements: str
container:
  description: The container at the end of the run.
  returned: when it exists
  type: dict
  contains:
    id:
      description: Container id.
      type: str
    name:
      description: Container name.
      type: str
    image:
      description: Image reference.
      type: str
    image_id:
      description: Image id.
      type: str
logs:
  description: The new container's last log lines when it did not become ready.
  returned: on failure
  type: list
  elements: str
"""

import os  # noqa: E402
import signal  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_container_spec as spec  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_ownership as ownership  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_proof as proof  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils import host_files  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import (  # noqa: E402
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    Engine,
    EngineError,
    wait_ready,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_module_args import CONTAINER_MODULE_ARGS  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_neighbours import neighbour_ports  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (  # noqa: E402
    PlanError,
    auth_digest,
    certificate_bytes,
    check_secrets,
    env_file_text,
    parse_env_text,
    render_env,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_replace import Replacement, port_conflicts  # noqa: E402


class GatewayContainer:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.c = self.p["container"]
        self.check = module.check_mode
        self.result = {
            "changed": False,
            "replaced": False,
            "rolled_back": False,
            "ready": False,
            "differences": [],
            "env_file_changed": False,
            "recovered": [],
        }
        self.engine = Engine.connect(self.p["docker_host"])
        self.docker_root = self.engine.info().get("DockerRootDir")
        self.cert = self.p["certificate_file"]
        self.cert_old = None

    def certificate(self):
        """The certificate file's bytes as validated (None: no certificate); refuses any other certificate."""
        if not self.cert or not self.cert["digest"]:
            return None
        data = certificate_bytes(self.p["certificate"] or "")
        if host_files.digest(data) != self.cert["digest"]:
            raise PlanError(
                "gateway_azure_ad_certificate is not the certificate the controller validated; validate the gateway "
                "settings again"
            )
        return data

    def certificate_differs(self, cert):
        """Whether the certificate file on the host is not this one (read only)."""
        mode = int(self.cert["mode"], 8)
        differs, _old = host_files.secret_file_state(self.cert["path"], cert, self.cert["owner"], mode)
        return differs

    def changed(self, what=None):
        self.result["changed"] = True
        if what:
            self.result["recovered"].append(what)

    # ----------------------------------------------------------------------------------------- who is who
    def look(self):
        return ownership.look(self.engine, self.c, self.p["legacy_containers"])

    def recover(self, current, kept):
        current, done = ownership.recover(self.engine, self.c, current, kept, self.check)
        if done:
            self.changed(done)
        return current

    def clean_leftovers(self):
        for path in host_files.leftovers(self.c["env_file"], [self.cert["path"]] if self.cert else []):
            if not self.check:
                host_files.remove(path)
            self.changed("removed %s" % path)

    # --------------------------------------------------------------------------------------------- files
    def files(self, pairs, cert):
        """Directories, the env-file and the certificate; returns the env-file's previous bytes (None when there was
        none) and keeps the certificate's."""
        if host_files.ensure_dir(os.path.dirname(self.c["env_file"]), 0, 0, host_files.ENV_DIR_MODE, self.check):
            self.changed()
        backup = self.p["backup"]
        if backup["enabled"]:
            if host_files.ensure_backup_dir(
                backup["path"], backup["owner"], backup["group"], self.docker_root, self.check
            ):
                self.changed()
        data = env_file_text(pairs).encode("utf-8")
        old = host_files.read(self.c["env_file"])
        if old is None or host_files.digest(old) != host_files.digest(data):
            self.result["env_file_changed"] = True
            self.changed()
            if not self.check:
                host_files.write_atomic(self.c["env_file"], data)
        if self.cert:
            mode = int(self.cert["mode"], 8)
            differs, self.cert_old = host_files.secret_file_state(self.cert["path"], cert, self.cert["owner"], mode)
            if differs:
                self.result["certificate_changed"] = True
                self.changed()
                if not self.check:
                    host_files.put_secret_file(self.cert["path"], cert, self.cert["owner"], mode)
        return old

    # ------------------------------------------------------------------------------------------- present
    def present(self):
        check_secrets(self.p["env"], self.p["secrets"], self.p["secret_digest"])
        pairs = render_env(self.p["env"], self.p["secrets"])
        cert = self.certificate()
        self.c = neighbour_ports(self.c, self.p["env"])
        image = self.engine.image(self.p["image"])
        if image is None and self.check:
            # Check mode on a host that would get the image first: the container would be created or replaced.
            self.look()
            self.result["differences"] = ["image"]
            self.changed()
            return
        if image is None:
            raise PlanError(
                "the image %s is not on this host; make it available first (the gateway role's image step)"
                % self.p["image"]
            )
        current, kept, legacy = self.look()
        if self.p["backup"]["enabled"]:
            host_files.check_backup_path(self.p["backup"]["path"], self.docker_root)
        current = self.recover(current, kept)
        self.clean_leftovers()
        want = spec.expected(self.c, pairs, image)
        diffs = ["container"] if current is None else spec.differences(want, spec.actual(current))
        if current is not None and cert is not None and self.certificate_differs(cert):
            diffs.append("certificate")  # the gateway reads it at start
        self.result["differences"] = diffs
        labels = self.credentials(current, pairs, diffs)
        old_env = self.files(pairs, cert)
        self.diff(want, current, diffs, old_env, pairs)
        if not diffs:
            self.keep_running(current)
        elif self.check:
            self.changed()
        else:
            self.replace(current, legacy, pairs, old_env, labels)

    def credentials(self, current, pairs, diffs):
        """With O(prove): new credentials for a running gateway are proven first, before anything changes. Returns
        the labels that record the new container's credentials."""
        digest = auth_digest(pairs, (self.cert or {}).get("digest", ""))
        proven_at = self.p["proven_at"]
        if diffs and self.p["prove"] and not self.check and not proven_at and proof.needs_proof(current, digest):
            outcome = proof.prove(self.engine, self.c, pairs, self.p["image"], self.p["proof_timeout"])
            self.result["proof"] = {k: outcome.get(k) for k in ("proven", "seconds", "proven_at", "reason")}
            if not outcome["proven"]:
                self.result["logs"] = outcome["logs"]
                raise PlanError(
                    "the new credentials of %s were refused: a gateway started with them and without the backup did "
                    "not load its configuration within %d s (%s): %s. The running gateway was left as it is and "
                    "nothing was changed. Last log lines: %s"
                    % (self.c["name"], self.p["proof_timeout"], outcome["detail"], outcome["reason"], outcome["logs"])
                )
            proven_at = outcome["proven_at"]
        return proof.info_labels(current, digest, proven_at, self.p["backup"])

    def diff(self, want, current, diffs, old_env, pairs):
        changed_files = self.result["env_file_changed"] or self.result.get("certificate_changed")
        if not self.module._diff or not (diffs or changed_files):
            return
        shown = spec.shown_keys(self.p["env"])
        if current is None:
            self.result["diff"] = {"before": "", "after": "container %s: created\n" % self.c["name"]}
        else:
            fields = [d for d in diffs if d != "certificate"]  # the certificate is a note below, not a field
            self.result["diff"] = spec.diff(want, spec.actual(current), fields, shown)
        if self.result["env_file_changed"]:
            before = parse_env_text(old_env.decode("utf-8", "replace")) if old_env else {}
            after = dict(pairs)
            keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            note = "".join("env-file %s: %s\n" % (k, after.get(k) if k in shown else "(hidden)") for k in keys)
            self.result["diff"]["after"] += note or "env-file %s: rewritten\n" % self.c["env_file"]
        if self.result.get("certificate_changed"):
            self.result["diff"]["after"] += "certificate %s: %s\n" % (
                self.cert["path"],
                "written (sha256 %s)" % self.cert["digest"] if self.cert["digest"] else "removed",
            )

    def keep_running(self, current):
        """Nothing differs: start it if it is stopped, and make sure it answers 200."""
        if not current["State"].get("Running"):
            self.changed()
            if self.check:
                return
            self.engine.start(current["Id"])
        if self.check:
            self.result["ready"] = ownership.serves(current, self.c["ready_url"])
            self.result["container"] = self.describe(current)
            return
        ok, reason = wait_ready(self.c["ready_url"], self.c["ready_timeout"], self.engine.exited_reason(current["Id"]))
        self.result["ready"] = ok
        self.result["container"] = self.describe(current)
        if not ok:
            self.result["logs"] = self.engine.logs(current["Id"], self.c["log_lines"])
            raise PlanError(
                "the gateway container %s runs as planned but does not answer 200 (%s); it was left as it is. "
                "Last log lines: %s" % (self.c["name"], reason, self.result["logs"])
            )

    def replace(self, current, legacy, pairs, old_env, labels):
        busy = port_conflicts(self.c, [i["Id"] for i in [current, *legacy] if i])
        if busy:
            raise PlanError(
                "host ports of the plan are held by another container or process (%s); the running gateway was "
                "left as it is and nothing was changed" % "; ".join(busy)
            )
        self.changed()
        run = Replacement(self.engine, self.c, self.p["image"], pairs, current, legacy, self.p["remove_legacy"], labels)
        outcome = run.go()
        self.result.update(replaced=outcome["replaced"], rolled_back=outcome["rolled_back"], ready=outcome["ready"])
        if outcome.get("container"):
            self.result["container"] = self.describe(self.engine.container(self.c["name"]) or {})
        if outcome["failed"]:
            if old_env is not None and self.result["env_file_changed"]:
                host_files.write_atomic(self.c["env_file"], old_env)
            elif old_env is None:
                host_files.remove(self.c["env_file"])
            if self.result.get("certificate_changed"):
                mode = int(self.cert["mode"], 8)
                host_files.put_secret_file(self.cert["path"], self.cert_old, self.cert["owner"], mode)
            self.result["logs"] = outcome["logs"]
            raise PlanError(outcome["message"])

    def describe(self, info):
        if not info:
            return {}
        return {
            "id": info.get("Id"),
            "name": info.get("Name", "").lstrip("/"),
            "image": (info.get("Config") or {}).get("Image"),
            "image_id": info.get("Image"),
        }

    # -------------------------------------------------------------------------------------------- absent
    def absent(self):
        backup = self.p["backup"]
        if backup["remove"]:
            host_files.check_backup_path(backup["path"], self.docker_root)
        current, kept, _legacy = self.look()
        for info in (current, kept):
            if info is not None:
                self.changed()
                if not self.check:
                    self.engine.remove(info["Id"])
        extra = [self.cert["path"]] if self.cert else []
        for path in [self.c["env_file"], *extra, *host_files.leftovers(self.c["env_file"], extra)]:
            if os.path.lexists(path):
                self.changed()
                if not self.check:
                    host_files.remove(path)
        if backup["remove"]:
            if host_files.remove_backup_dir(backup["path"], backup["owner"], self.docker_root, self.check):
                self.changed()


def main():
    module = AnsibleModule(
        argument_spec=CONTAINER_MODULE_ARGS,
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    # The transaction completes on the host even when the controller's session goes away.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    run = None
    try:
        run = GatewayContainer(module)
        if module.params["state"] == "absent":
            run.absent()
        else:
            run.present()
    except (EngineError, PlanError, host_files.HostFileError, OSError) as exc:
        module.fail_json(msg=str(exc), **(run.result if run else {}))
    module.exit_json(**run.result)


if __name__ == "__main__":
    main()
