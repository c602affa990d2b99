"""What the bench scripts share: edge hosts and fakes for a gateway run, ansible-playbook with a JSON recap,
per-task timings, the status-path wait, and reporting.

Figures are ratios against a baseline measured in the same run on the same machine; absolute seconds
on a shared 2-core machine are noise.
"""

import datetime
import json
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from apim_testkit import edgefleet
from apim_testkit.gateway_sim import fakes

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LABEL = "io.apim.bench"
SIM_IMAGE = os.environ.get("APIM_SIM_IMAGE", "apim-testbed/gateway-sim")
SIM_TAG = "2.12.3"
IMAGE_CACHE = pathlib.Path(os.environ.get("APIM_IMAGE_CACHE", "/var/lib/apim-testbed/images"))
TARBALL = IMAGE_CACHE / f"gateway-sim-{SIM_TAG}.tar"
STATUS_PATH = "/status-0123456789abcdef"
# Where the bench puts the site's CA on an edge host, as an operator would before any run (both playbooks mount it).
CA_ON_HOST = "/etc/apim-gateway-ca/test-ca.crt"
CA_IN_GATEWAY = "/usr/local/share/ca-certificates/test-ca.crt"


# Actions that run on the controller only: they cost no round-trip to the host.
CONTROLLER_ACTIONS = {
    f"ansible.builtin.{name}"
    for name in (
        "set_fact", "debug", "include_tasks", "include_role", "import_tasks", "import_role", "assert", "fail",
        "validate_argument_spec", "meta", "pause", "add_host", "group_by", "include_vars",
    )
} | {"set_fact", "debug", "include_tasks", "include_role", "assert", "fail", "meta", "pause"}  # fmt: skip


class Run:
    """One ansible-playbook run: wall seconds, the JSON callback's data and the per-host stats."""

    def __init__(self, seconds, data, proc, cpu=0.0, busy=None, edge_cpu=None, daemon_cpu=None):
        self.seconds = seconds
        self.data = data
        self.proc = proc
        self.stats = data.get("stats", {})
        self.cpu = cpu  # CPU seconds of ansible-playbook and everything it ran on the controller (docker CLI too)
        self.busy = busy  # share of the machine's CPU time that was busy during the run (every process, 0..1)
        self.edge_cpu = edge_cpu  # CPU seconds inside the edge hosts of the run (their cgroups: modules, dockerd)
        self.daemon_cpu = daemon_cpu  # CPU seconds of the machine's own dockerd and containerd (docker exec)

    @property
    def changed(self):
        return sum(host.get("changed", 0) for host in self.stats.values())

    @property
    def failed(self):
        return sum(host.get("failures", 0) + host.get("unreachable", 0) for host in self.stats.values())

    def per_host(self, key):
        """The mean of a stats counter over the hosts (ok, changed, skipped, ...)."""
        if not self.stats:
            return 0
        return sum(host.get(key, 0) for host in self.stats.values()) / len(self.stats)

    @property
    def tasks_per_host(self):
        """Task results per host (ok, which counts changed ones too, plus skipped and failed)."""
        return self.per_host("ok") + self.per_host("skipped") + self.per_host("failures")

    @property
    def ran_per_host(self):
        """Task results per host that ran a module or an action on the controller (not skipped)."""
        return self.per_host("ok") + self.per_host("failures")

    def task_times(self):
        """Seconds per task name, summed over plays and batches (a task's wall time over all hosts of a batch)."""
        times = defaultdict(float)
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                d = task["task"].get("duration", {})
                if "start" in d and "end" in d:
                    times[task["task"]["name"]] += (_ts(d["end"]) - _ts(d["start"])).total_seconds()
        return dict(times)

    def task_entries(self):
        """How many task entries (a task in one batch) ran on at least one host, not skipped everywhere."""
        n = 0
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if any(not r.get("skipped") for r in task.get("hosts", {}).values()):
                    n += 1
        return n

    def module_runs(self):
        """(count, seconds): module runs per host on the host (a loop item is one run; controller-side actions
        such as set_fact, assert or include are not counted), and the wall seconds of the tasks that had them."""
        count, seconds = 0, 0.0
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                ran = [
                    r
                    for r in task.get("hosts", {}).values()
                    if not r.get("skipped") and r.get("action") not in CONTROLLER_ACTIONS
                ]
                if not ran:
                    continue
                for r in ran:
                    items = r.get("results")
                    count += sum(not i.get("skipped") for i in items) if isinstance(items, list) else 1
                d = task["task"].get("duration", {})
                if "start" in d and "end" in d:
                    seconds += (_ts(d["end"]) - _ts(d["start"])).total_seconds()
        hosts = max(1, len(self.stats))
        return count / hosts, seconds

    def breakdown(self):
        """Where the wall time went: tasks that ran a module on a host, tasks that ran on the controller only
        (set_fact, include, assert, skipped everywhere ...), and the rest (ansible-playbook start, inventory,
        play and batch set-up, callbacks)."""
        module_s = controller_s = 0.0
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                d = task["task"].get("duration", {})
                if "start" not in d or "end" not in d:
                    continue
                secs = (_ts(d["end"]) - _ts(d["start"])).total_seconds()
                remote = any(
                    not r.get("skipped") and r.get("action") not in CONTROLLER_ACTIONS
                    for r in task.get("hosts", {}).values()
                )
                if remote:
                    module_s += secs
                else:
                    controller_s += secs
        return {
            "module_tasks_s": round(module_s, 2),
            "controller_tasks_s": round(controller_s, 2),
            "other_s": round(self.seconds - module_s - controller_s, 2),
        }

    def top_tasks(self, n=5):
        times = sorted(self.task_times().items(), key=lambda kv: kv[1], reverse=True)
        return [[name, round(secs, 2)] for name, secs in times[:n]]

    def retried_tasks(self):
        """[name, attempts] of the tasks that retried (until/retries) on any host: time spent waiting."""
        out = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                attempts = max((r.get("attempts", 1) or 1 for r in task.get("hosts", {}).values()), default=1)
                if attempts > 1:
                    out.append([task["task"]["name"], attempts])
        return out

    def changed_tasks(self):
        """Names of the tasks that reported changed on any host."""
        names = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if any(r.get("changed") for r in task.get("hosts", {}).values()):
                    names.append(task["task"]["name"])
        return names


def _ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def playbook(path, inventory, extra_vars=None, forks=None, env=None, check=True, args=(), timeout=3600, hosts=()):
    """Run ansible-playbook with the JSON callback; return a Run. A failed run raises unless check is false.
    ``hosts``: edge hosts whose CPU time the run should account for (Run.edge_cpu)."""
    cmd = ["ansible-playbook", "-i", str(inventory), str(path), *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if forks:
        cmd += ["--forks", str(forks)]
    run_env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", **(env or {})}
    cgroups = [_cpuacct(name) for name in hosts]
    edge0, daemon0 = _edge_cpu(cgroups), _daemon_cpu()
    ru0, cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_times()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=ROOT, timeout=timeout)
    seconds = time.monotonic() - t0
    ru1, cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_times()
    edge1, daemon1 = _edge_cpu(cgroups), _daemon_cpu()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    busy = None
    if cpu0 and cpu1 and cpu1[1] > cpu0[1]:
        busy = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1])
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        data = {}
    if check and proc.returncode != 0:
        raise RuntimeError(f"{path} failed (exit {proc.returncode}):\n{_failures(data)}\n{proc.stderr[-2000:]}")
    edge = edge1 - edge0 if hosts and edge0 is not None and edge1 is not None else None
    daemon = daemon1 - daemon0 if daemon0 is not None and daemon1 is not None else None
    return Run(seconds, data, proc, cpu=cpu, busy=busy, edge_cpu=edge, daemon_cpu=daemon)


def _cpuacct(name):
    """The cpuacct.usage file of an edge host's container (cgroup v1 with the cgroupfs driver, or v2), or None."""
    cid = edgefleet.docker("inspect", "-f", "{{.Id}}", name, check=False).stdout.strip()
    for path in (
        f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
        f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat",
        f"/sys/fs/cgroup/docker/{cid}/cpu.stat",
    ):
        if cid and os.path.exists(path):
            return path
    return None


def _edge_cpu(paths):
    """CPU seconds so far of the given cgroups (None when one cannot be read)."""
    total = 0.0
    for path in paths:
        try:
            text = pathlib.Path(path).read_text()
        except (OSError, TypeError):
            return None
        if path.endswith("cpuacct.usage"):
            total += int(text) / 1e9
        else:
            usage = dict(line.split() for line in text.splitlines() if line)
            total += int(usage.get("usage_usec", 0)) / 1e6
    return total


def _daemon_cpu():
    """CPU seconds so far of this machine's dockerd and containerd (not those inside edge hosts), or None."""
    tick = os.sysconf("SC_CLK_TCK")
    total, seen = 0.0, False
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            if comm not in ("dockerd", "containerd"):
                continue
            if "/docker/" in (entry / "cgroup").read_text():  # an edge host's own engine
                continue
        except (OSError, ValueError):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        seen = True
    return total if seen else None


def _cpu_times():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _failures(data):
    """The failed task results of a JSON recap, short."""
    out = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, r in task.get("hosts", {}).items():
                if r.get("failed") or r.get("unreachable"):
                    msg = str(r.get("msg", ""))[:600]
                    out.append(f"{host}: {task['task']['name']}: {msg}")
    return "\n".join(out[-10:]) or "(no failed task in the recap)"


def write_inventory(path, inv):
    path = pathlib.Path(path)
    path.write_text(json.dumps(inv, indent=2))
    os.chmod(path, 0o600)
    return path


# ---- the test bed: edge hosts, fakes, the site's CA, the status path -------------------------------------------


def check_testbed():
    """Fail early with a hint when the test bed's environment or images are not there."""
    missing = [tool for tool in ("docker", "ansible-playbook") if shutil.which(tool) is None]
    if missing:
        sys.exit(f'{", ".join(missing)} not on PATH: run eval "$(bash tests/testbed.sh env)" first')
    if not os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
        sys.exit('ANSIBLE_COLLECTIONS_PATH is not set: run eval "$(bash tests/testbed.sh env)" first')
    if not TARBALL.exists():
        sys.exit(f"{TARBALL} is missing: the test bed builds it (tests/testbed.sh)")


def start_fakes(name, gateways=("gw-bench",)):
    """The Configuration API fake and a backend on apim-testnet, named after the bench (fakes.py)."""
    return fakes.up(name, state_dir=f"/var/tmp/{name}-fakes", gateways=tuple(gateways))


def stop_fakes(name):
    fakes.down(name)


def start_hosts(names, label_value, timeout=180, strict=True):
    """Fresh edge hosts (replacing any of the same name), started in parallel; wait until systemd settled in
    each (running or degraded: a unit that failed in a container does not matter here). Returns the state of
    each; with ``strict``, raises with the hosts that did not boot."""
    names = list(names)
    label = f"{LABEL}={label_value}"

    def boot(name):
        edgefleet.docker("rm", "-f", "-v", name, check=False)
        edgefleet.docker(*edgefleet.run_args(name, labels=[label]))
        return edgefleet.wait_for_systemd(name, timeout=timeout)

    states = dict(zip(names, parallel(boot, names), strict=True))
    bad = {n: s or "no answer" for n, s in states.items() if s not in ("running", "degraded")}
    if bad and strict:
        raise RuntimeError(f"edge hosts did not boot within {timeout} s: {bad}")
    return states


# Inotify instances that a converged edge host holds as root: systemd (PID 1) 5, containerd 1 (dbus-daemon's one
# counts against its own user). Every container on this machine runs as root in the same user namespace, so all of
# them share fs.inotify.max_user_instances; a systemd that cannot get one hangs in "initializing".
INOTIFY_PER_HOST = 6


def inotify_usage(uid=0):
    """(limit, instances in use by uid): fs.inotify.max_user_instances and the inotify fds of uid's processes."""
    try:
        limit = int(pathlib.Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return None, None
    used = 0
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if int(status.split("\nUid:", 1)[1].split()[0]) != uid:
                continue
            for fd in (entry / "fd").iterdir():
                try:
                    if os.readlink(fd) == "anon_inode:inotify":
                        used += 1
                except OSError:
                    continue
        except (OSError, IndexError, ValueError):
            continue
    return limit, used


def remove_hosts(names=(), label_value=None):
    edgefleet.remove(list(names), label=f"{LABEL}={label_value}" if label_value else None)


def place_ca(names, ca_file):
    """Put the fakes' CA on each host, root 0644, where the playbooks' mounts expect it."""
    pem = pathlib.Path(ca_file).read_text()
    script = f"install -d -m 0755 {os.path.dirname(CA_ON_HOST)} && cat > {CA_ON_HOST} && chmod 0644 {CA_ON_HOST}"

    def one(name):
        edgefleet.exec_in(name, "sh", "-c", script, input=pem)

    parallel(one, names)


def exit_on_sigterm():
    """Turn SIGTERM into SystemExit, so that the scripts' finally blocks remove their edge hosts and fakes."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def parallel(fn, items):
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), 20))) as pool:
        return list(pool.map(fn, items))


def status_code(name, port=80):
    """The status path's HTTP code, asked on the edge host itself (0 when nothing answers)."""
    proc = edgefleet.exec_in(
        name,
        "curl", "-s", "-o", "/dev/null", "-m", "3", "-w", "%{http_code}", f"http://127.0.0.1:{port}{STATUS_PATH}",
        check=False,
    )  # fmt: skip
    out = proc.stdout.strip()
    return int(out) if out.isdigit() else 0


def wait_ready(name, timeout=180, interval=0.25):
    """Poll the status path until 200; return the seconds waited (0.0 when it answered 200 at once)."""
    t0 = time.monotonic()
    while True:
        if status_code(name) == 200:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{name}: the gateway did not answer 200 on {STATUS_PATH} within {timeout} s")
        time.sleep(interval)


def ours_vars(fk):
    """Gateway role variables for playbooks/deploy.yml against the fakes (as molecule/default's prepare writes)."""
    return {
        "gateway_image_repository": SIM_IMAGE,
        "gateway_image_tag": SIM_TAG,
        "gateway_image_source": "tarball",
        "gateway_image_tarball": str(TARBALL),
        "gateway_endpoint": fk["endpoint"],
        "gateway_endpoint_custom_hostnames": fk["custom_hostnames"],
        "gateway_extra_hosts": fk["extra_hosts"],
        "gateway_ca_bundle_mounts": [{"source": CA_ON_HOST, "target": CA_IN_GATEWAY}],
        "gateway_token": fk["token"],
    }


def baseline_vars(fk):
    """Variables of bench/baseline/deploy.yml: the same image, endpoint, token, hosts and CA."""
    return {
        "baseline_image": SIM_IMAGE,
        "baseline_tag": SIM_TAG,
        "baseline_tarball": str(TARBALL),
        "baseline_endpoint": fk["endpoint"],
        "baseline_token": fk["token"],
        "baseline_etc_hosts": fk["extra_hosts"],
        "baseline_ca_file": CA_ON_HOST,
    }


def inventory(names, group_vars, group="gateways"):
    inv = edgefleet.inventory(list(names), group=group)
    inv[group]["vars"].update(group_vars)
    return inv


def floor(inventory, workdir, forks=None, tasks=10, env=None, hosts=()):
    """What any task costs here: seconds of an empty play (ansible-playbook's start; connections are lazy, so no
    host is touched) and, from a play of ``tasks`` pings, the wall seconds per ping task on all hosts, and the
    CPU seconds per ping per host (controller, the machine's dockerd/containerd, and inside the edge host)."""
    empty = floor_playbook(pathlib.Path(workdir) / "floor-0.yml", tasks=0)
    pings = floor_playbook(pathlib.Path(workdir) / f"floor-{tasks}.yml", tasks=tasks)
    r0 = playbook(empty, inventory, forks=forks, env=env, hosts=hosts)
    r1 = playbook(pings, inventory, forks=forks, env=env, hosts=hosts)
    runs = tasks * max(1, len(hosts))
    return {
        "startup_s": r0.seconds,
        "per_task_s": (r1.seconds - r0.seconds) / tasks,
        "ctrl_cpu_per_run_s": (r1.cpu - r0.cpu) / runs,
        "daemon_cpu_per_run_s": ((r1.daemon_cpu or 0) - (r0.daemon_cpu or 0)) / runs,
        "edge_cpu_per_run_s": ((r1.edge_cpu or 0) - (r0.edge_cpu or 0)) / runs,
    }


def floor_playbook(path, tasks=1, become=True):
    """A playbook of ``tasks`` ansible.builtin.ping tasks on the gateways: what any task costs, no work in it."""
    lines = ["---", "- name: Floor", "  hosts: gateways", "  gather_facts: false", f"  become: {str(become).lower()}"]
    lines += ["  tasks:" if tasks else "  tasks: []"]
    for i in range(1, tasks + 1):
        lines += [f"    - name: Ping {i}", "      ansible.builtin.ping:"]
    path = pathlib.Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- figures -------------------------------------------------------------------------------------------------


def ratio(a, b):
    return round(a / b, 2) if b else None


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def report(name, rows, figures, notes=()):
    """Print a table of rows (list of dicts with the same keys), notes, and one JSON line; save them.

    bench/results/<name>-<stamp>.txt holds the table, the notes and the line; <name>-latest.json the line;
    <name>.jsonl gets the line appended (one per run, to compare runs).
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0]) if rows else []
    widths = {k: max(len(k), *(len(_fmt(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines += ["  ".join(_fmt(r[k]).ljust(widths[k]) for k in keys).rstrip() for r in rows]
    table = "\n".join([*lines, *notes])
    stamp = time.strftime("%Y%m%dT%H%M%S")
    line = json.dumps({"bench": name, "time": stamp, **source_state(), **figures}, sort_keys=True)
    print(table)
    print(line)
    (RESULTS / f"{name}-{stamp}.txt").write_text(table + "\n" + line + "\n")
    (RESULTS / f"{name}-latest.json").write_text(line + "\n")
    with open(RESULTS / f"{name}.jsonl", "a") as fh:
        fh.write(line + "\n")
    return line


def merge_top(runs, n=5):
    """The n slowest tasks over runs, as [name, mean seconds] (a task missing from a run counts 0 there)."""
    total = defaultdict(float)
    for r in runs:
        for name, secs in r.task_times().items():
            total[name] += secs
    top = sorted(total.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return [[name, round(secs / max(1, len(runs)), 2)] for name, secs in top]


def source_state():
    """The commit the figures were taken at, and the files of the collection that differed from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "playbooks", "roles", "plugins"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return {"commit": head.stdout.strip(), "uncommitted": [line[3:] for line in dirty.stdout.splitlines()]}


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.2f}"
    if value is None:
        return "-"
    return str(value)
