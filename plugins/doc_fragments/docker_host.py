# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The engine the gateway's host modules talk to, through the Docker SDK for Python.
    DOCUMENTATION = r"""
options:
  docker_host:
    description: The engine's API socket.
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - The Docker SDK for Python on the host (Debian's C(python3-docker), installed by the C(apim.selfhosted.docker)
    role). The modules talk to the engine through it, never through the docker CLI.
"""
