# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json

from ansible.errors import AnsibleFilterError

from ansible_collections.apim.selfhosted.plugins.module_utils.role_vars import plain

DOCUMENTATION = r"""
name: status_report
short_description: Build the fleet status report from the rows of apim.selfhosted.gateway_info
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - Takes the C(gateway) rows of M(apim.selfhosted.gateway_info), one per host of O(hosts) in the same order (null
    for a host that could not be read), and returns the report of the C(apim.selfhosted.status) playbook - the rows
    with the peers each gateway heard among the other running instances of the same gateway, the hosts whose token
    expires within O(min_days) (or cannot be read), those that are not ready, a table, and the JSON and CSV texts.
  - The JSON and CSV hold no time of their own, so that an unchanged fleet writes unchanged files.
options:
  _input:
    description: The rows, null for a host without one.
    type: list
    elements: dict
    required: true
  hosts:
    description: The host names, in the order of the rows.
    type: list
    elements: str
    required: true
  min_days:
    description: Fewer days left on a token than this is a finding.
    type: int
    default: 7
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ rows | apim.selfhosted.status_report(hosts=ansible_play_hosts_all, min_days=7) }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    rows:
      description: One row per host, with C(peers) (heard and running) and C(peers_expected).
      type: list
      elements: dict
    expiring:
      description: Hosts whose token expires within C(min_days), or whose token cannot be read.
      type: list
      elements: str
    not_ready:
      description: Hosts whose gateway does not answer 200.
      type: list
      elements: str
    table:
      description: The table, one string per line.
      type: list
      elements: str
    json:
      description: The report as JSON text.
      type: str
    csv:
      description: The rows as CSV text.
      type: str
"""

COLUMNS = (
    "host", "gateway", "container", "state", "health", "image_tag", "ready", "status_code", "auth", "token_expiry",
    "token_days_left", "credentials_proven_at", "backup_files", "backup_newest", "instance", "neighborhood", "peers",
    "peers_expected", "heard",
)  # fmt: skip
_FMT = "%-16s %-14s %-9s %-5s %-17s %5s %-20s %s"


def _row(host, gateway):
    row = dict(gateway or {})
    if not row:
        row = {"state": "unreachable", "ready": False, "status_code": -1, "auth": "", "heard": None}
    row["host"] = host
    return row


def _peers(rows):
    for r in rows:
        others = [
            o.get("instance")
            for o in rows
            if o["host"] != r["host"] and o.get("gateway") == r.get("gateway") and o.get("state") == "running"
            and o.get("instance")
        ]  # fmt: skip
        heard = r.get("heard")
        r["peers"] = None if heard is None else sorted(set(heard) & set(others))
        r["peers_expected"] = None if heard is None else len(others)


def _peers_text(r):
    if r.get("peers") is None:
        return "no neighborhood"
    text = "%d/%d" % (len(r["peers"]), r["peers_expected"])
    return text + (": " + ", ".join(r["peers"]) if r["peers"] else "")


def _table(rows):
    lines = [_FMT % ("host", "gateway", "tag", "ready", "token expiry", "days", "backup (newest)", "peers heard")]
    for r in rows:
        days = r.get("token_days_left")
        lines.append(
            _FMT
            % (
                r["host"],
                r.get("gateway") or "-",
                r.get("image_tag") or r.get("state"),
                "yes" if r.get("ready") else "NO",
                r.get("token_expiry") or r.get("auth") or "-",
                "-" if days is None else days,
                r.get("backup_newest") or "-",
                _peers_text(r),
            )
        )
    return lines


def _csv(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        cells = []
        for col in COLUMNS:
            v = r.get(col)
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, list):
                v = ";".join(str(x) for x in v)
            cells.append("" if v is None else v)
        writer.writerow(cells)
    return out.getvalue()


def status_report(items, hosts, min_days=7):
    if not isinstance(items, list) or not isinstance(hosts, list) or len(items) != len(hosts):
        raise AnsibleFilterError("status_report: the input must be a list of rows, one per host of hosts")
    rows = [_row(str(h), g) for h, g in zip(plain(hosts), plain(items), strict=True)]
    _peers(rows)
    min_days = int(min_days)
    expiring = [
        r["host"]
        for r in rows
        if r.get("auth") == "token" and (r.get("token_days_left") is None or r["token_days_left"] < min_days)
    ]
    not_ready = [r["host"] for r in rows if not r.get("ready")]
    # Without the ages that grow by the second: an unchanged fleet writes unchanged files.
    hosts = [{k: v for k, v in r.items() if k != "backup_age_seconds"} for r in rows]
    report = {"token_min_days": min_days, "expiring": expiring, "not_ready": not_ready, "hosts": hosts}
    return {
        "rows": rows,
        "expiring": expiring,
        "not_ready": not_ready,
        "table": _table(rows),
        "json": json.dumps(report, indent=2, sort_keys=True) + "\n",
        "csv": _csv(rows),
    }


class FilterModule(object):
    def filters(self):
        return {"status_report": status_report}
