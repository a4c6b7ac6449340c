"""How many processes are worth running at once on this machine."""

import os
from pathlib import Path


MEMBERSHIP = Path("/proc/self/cgroup")
CGROUPS = Path("/sys/fs/cgroup")


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by the CPU
    quota of its container or systemd slice. More processes than that share
    cores, and a candidate slowed past its time budget would be dropped."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min([cores, *_cgroup_quotas()]))


def _cgroup_quotas() -> list[int]:
    """Whole CPUs allowed by each CPU quota over this process (cgroup v2
    `cpu.max`, v1 `cpu.cfs_quota_us`), from its own group up to the root."""
    try:
        lines = [line.strip().split(":", 2) for line in MEMBERSHIP.read_text().splitlines() if line.count(":") >= 2]
    except OSError:
        return []
    places = []
    for _, controllers, group in lines:
        if controllers == "":
            places.append((CGROUPS, group, ("cpu.max",)))
        elif "cpu" in controllers.split(","):
            places.append((CGROUPS / controllers, group, ("cpu.cfs_quota_us", "cpu.cfs_period_us")))
    quotas = []
    for root, group, files in places:
        folder = root / group.lstrip("/")
        for level in (folder, *folder.parents):
            if not level.is_relative_to(root):
                break
            try:
                if len(files) == 1:
                    quota, period = (level / files[0]).read_text().split()[:2]
                else:
                    quota, period = ((level / name).read_text().strip() for name in files)
                if quota not in ("max", "-1"):
                    quotas.append(max(1, -(-int(quota) // int(period))))
            except (OSError, ValueError, ZeroDivisionError):
                continue
    return quotas
