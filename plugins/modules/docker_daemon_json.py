#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docker_daemon_json
short_description: Write the Docker daemon's configuration file, and its directory when missing, in one round trip
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Writes O(content) to O(path) atomically when the file's bytes differ, keeping the previous file as a backup when
    asked, and sets the owner, group and mode. A missing directory is created (root, mode 0755) in the same run, so a
    fresh host needs no separate task for it; an existing directory is left as it is.
  - The text is not checked or merged here; the role C(apim.selfhosted.docker) plans it on the controller with the
    filter P(apim.selfhosted.docker_settings#filter). The module does not restart the engine.
options:
  path:
    description: The file to write, for example C(/etc/docker/daemon.json).
    type: path
    required: true
  content:
    description: The text of the file.
    type: str
    required: true
  backup:
    description: Keep the previous file next to it (C(daemon.json.<timestamp>~)) when its content changes.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The file's text before and after.
  platform:
    platforms: posix
notes:
  - The file may hold credentials (for example C(proxies) with a user and password); its text then shows in C(--diff)
    output. Use C(no_log) on the task in that case.
"""

EXAMPLES = r"""
- name: Write daemon.json
  apim.selfhosted.docker_daemon_json:
    path: /etc/docker/daemon.json
    content: "{{ {'live-restore': true, 'log-driver': 'local'} | to_nice_json }}"
    owner: root
    group: root
    mode: "0644"
    backup: true
"""

RETURN = r"""
path:
  description: The file.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
created_directory:
  description: The directory that was created (or would be, in check mode); absent when it existed.
  returned: when the directory was missing
  type: str
  sample: /etc/docker
backup_file:
  description: The copy of the previous file.
  returned: when O(backup) is true and the content changed
  type: str
  sample: /etc/docker/daemon.json.12345.2026-12-03@10:00:00~
"""

import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes, to_text  # noqa: E402


def read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write(module, path, data, result):
    """Create the directory when missing, keep a backup when asked, then replace the file atomically."""
    directory = os.path.dirname(path) or "/"
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
        os.chmod(directory, 0o755)  # noqa: S103 - /etc/docker is world-readable, whatever the umask
        result["created_directory"] = directory
    if module.params["backup"] and os.path.exists(path):
        result["backup_file"] = module.backup_local(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            backup=dict(type="bool", default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params["path"]
    data = to_bytes(module.params["content"], errors="surrogate_or_strict")
    before = read_bytes(path)
    result = {"changed": before != data, "path": path}
    if result["changed"]:
        result["diff"] = {
            "before_header": path,
            "after_header": path,
            "before": to_text(before or b"", errors="surrogate_or_replace"),
            "after": to_text(data, errors="surrogate_or_replace"),
        }
        if module.check_mode:
            if not os.path.isdir(os.path.dirname(path) or "/"):
                result["created_directory"] = os.path.dirname(path)
        else:
            write(module, path, data, result)
    if os.path.exists(path):
        file_args = module.load_file_common_arguments(module.params, path=path)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
