# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_plan import PlanError, plan

DOCUMENTATION = r"""
name: docker_settings
short_description: Validate the docker role's variables and merge them into an existing daemon.json
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - The one validation path of the C(apim.selfhosted.docker) role. Runs on the controller, so a bad value fails
    before any host is touched.
  - Without O(host), checks the variables against the role's C(meta/argument_specs.yml) (types, choices, defaults),
    then the rules that span several variables, among them the JSON type of every known C(daemon.json) key in
    C(docker_daemon_options) (V(true), not C("yes"); C(log-opts) a mapping of strings).
  - With O(host) (facts that the role read from the host without changing it), also checks the platform against the
    role's C(meta/main.yml), the packages already installed (an engine from another source is never replaced), the
    engine (required with C(docker_install_source=none); the running one, or the one apt would install, never older
    than C(docker_min_version); no C(daemon.json) key that it does not know, such as C(proxies) before Docker 23.0),
    the users, and merges the managed keys into O(existing), keeping every key that the role does not manage.
  - Messages name the variable (or the file) that is wrong.
options:
  _input:
    description: Mapping of the role's variables (C(docker_*)) to their values.
    type: dict
    required: true
  existing:
    description:
      - Text of the host's current C(daemon.json); V(null) when the file does not exist. Without it, the file that
        O(host.probe) read is used.
      - Invalid JSON, or JSON that is not an object, is an error (the role never overwrites a file it cannot read).
    type: str
  host:
    description:
      - What the role read from the host. Every key is optional; a missing key skips the checks that need it.
      - A platform key (V(distribution) to V(apparmor)) that is missing or V(null) is taken from O(host.probe)
        (C(/etc/os-release), C(uname -m), the package and service managers found), so that the role needs no fact
        gathering; facts from C(setup) win.
    type: dict
    suboptions:
      distribution:
        description: C(ansible_facts.distribution), for example C(Debian).
        type: str
      distribution_release:
        description: C(ansible_facts.distribution_release), for example C(bookworm).
        type: str
      distribution_major_version:
        description: C(ansible_facts.distribution_major_version), for example C(12).
        type: str
      pkg_mgr:
        description: C(ansible_facts.pkg_mgr).
        type: str
      service_mgr:
        description: C(ansible_facts.service_mgr).
        type: str
      architecture:
        description: C(ansible_facts.architecture), for example C(x86_64).
        type: str
      apparmor:
        description:
          - C(ansible_facts.apparmor.status); V(enabled) adds the C(apparmor) package, which dockerd needs there.
        type: str
      probe:
        description:
          - The registered result of the read-only module M(apim.selfhosted.docker_host_probe), run with the options in
            RV(_value.probe_args) - the platform, the route_localnet check, the unit's state, the users, the
            C(docker) group, C(daemon.json) with its owner and mode, the installed packages and the engine's answer.
        type: dict
"""

EXAMPLES = r"""
- name: Validate the docker role's variables on the controller
  ansible.builtin.set_fact:
    docker_checked: "{{ dict(names | zip(query('ansible.builtin.vars', *names))) | apim.selfhosted.docker_settings }}"
  vars:
    names: "{{ query('ansible.builtin.varnames', '^docker_[a-z]') }}"

- name: Stop on errors
  ansible.builtin.fail:
    msg: "{{ docker_checked.errors | join('; ') }}"
  when: docker_checked.errors | length > 0

- name: Read the host
  apim.selfhosted.docker_host_probe:
    packages: [docker.io, python3-docker]
  register: docker_probe

- name: Merge into the host's daemon.json, and check the platform, packages and engine
  ansible.builtin.set_fact:
    docker_checked: >-
      {{ dict(names | zip(query('ansible.builtin.vars', *names)))
         | apim.selfhosted.docker_settings(host={'probe': docker_probe}) }}
  vars:
    names: "{{ query('ansible.builtin.varnames', '^docker_[a-z]') }}"

- name: Merge into a daemon.json read with ansible.builtin.slurp, and check the platform
  ansible.builtin.set_fact:
    docker_checked: >-
      {{ dict(names | zip(query('ansible.builtin.vars', *names)))
         | apim.selfhosted.docker_settings(existing=daemon_json.content | b64decode,
                                           host={'distribution': ansible_facts.distribution,
                                                 'distribution_release': ansible_facts.distribution_release}) }}
  vars:
    names: "{{ query('ansible.builtin.varnames', '^docker_[a-z]') }}"
"""

RETURN = r"""
_value:
  description: The validation result.
  type: dict
  contains:
    errors:
      description: Problems, each naming its variable or file. Empty when everything is valid.
      type: list
      elements: str
    warnings:
      description: Things to tell the operator (unsupported platform allowed, fallback to the userland proxy, ...).
      type: list
      elements: str
    source:
      description: The install source (C(distro), C(docker_ce) or C(none)).
      type: str
    changes:
      description:
        - Whether the host needs any of the role's changes (daemon.json, repository, packages, engine start or restart,
          users); V(true) without O(host).
      type: bool
    users_to_add:
      description: The users of C(docker_users) that are not in the C(docker) group yet (all of them without O(host)).
      type: list
      elements: str
    packages:
      description:
        - The apt package specifications to install, C(name) or C(name=version) with a pinned Docker CE version.
        - With O(host) and its C(packages), only the ones that are missing (or installed at another pinned version).
      type: list
      elements: str
    repo:
      description:
        - For C(docker_ce), the repository (C(url), C(key_url), C(key_path), C(key_present) (the keyring is on the
          host already), C(keyring_dir_present), C(sources_path) and the deb822 C(sources) text); V(null) otherwise or
          when the host facts are not known yet.
      type: dict
    probe_args:
      description:
        - The options for M(apim.selfhosted.docker_host_probe) (C(service_name), C(daemon_config_path),
          C(repo_key_path), C(packages), C(candidates), C(users)).
      type: dict
    engine:
      description:
        - The engine found on the host, C(running), C(version), C(live_restore), C(logging_driver), C(started) (epoch
          seconds), C(error), C(installed) (its packages are there or it answers) and C(unit_ok) (its unit is enabled
          and active).
      type: dict
    daemon:
      description: The daemon configuration.
      type: dict
      contains:
        managed:
          description:
            - The keys the role writes, with their values (the managed keys and C(docker_daemon_options)).
          type: dict
        removed:
          description:
            - Keys the role removes, those set to V(null) in C(docker_daemon_options) and C(log-opts) with a driver
              that takes no rotation options.
          type: list
          elements: str
        config:
          description: The merged configuration (existing keys kept, managed keys set); with O(host) only.
          type: dict
        content:
          description: The text to write; the existing text unchanged when the merged configuration is the same.
          type: str
        changed:
          description: Whether the configuration differs from the existing file (a restart is due).
          type: bool
        file_ok:
          description: Whether the file has that content already, as a regular file, mode 0644, root:root.
          type: bool
        restart:
          description:
            - Whether a running engine must be restarted, for a change of the file or because it started before the
              file was last written (a restart that did not happen in an earlier run).
          type: bool
        reload_first:
          description:
            - Whether the running engine must reload the file (SIGHUP) before its restart, to turn on live-restore so
              that the restart keeps its containers.
          type: bool
"""


def docker_settings(values, existing=None, host=None):
    try:
        return plan(values, existing=existing, host=host)
    except PlanError as exc:
        raise AnsibleFilterError("docker_settings: %s" % exc) from exc


class FilterModule(object):
    def filters(self):
        return {"docker_settings": docker_settings}
