"""How many processes exgen runs at once: never more than the machine, or
its container, lets it use (more would only slow each candidate towards its
time budget)."""

import pytest

from exgen import cores


def fake_cgroups(tmp_path, monkeypatch, membership: str, files: dict[str, str]):
    (tmp_path / "cgroup").write_text(membership)
    root = tmp_path / "sys"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(cores, "MEMBERSHIP", tmp_path / "cgroup")
    monkeypatch.setattr(cores, "CGROUPS", root)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)


@pytest.mark.parametrize("membership, files, expected", [
    ("0::/\n", {}, 64),
    ("0::/\n", {"cpu.max": "max 100000\n"}, 64),
    ("0::/docker/abc\n", {"docker/abc/cpu.max": "200000 100000\n"}, 2),
    ("0::/system.slice/job.service\n", {"system.slice/cpu.max": "150000 100000\n",
                                         "system.slice/job.service/cpu.max": "max 100000\n"}, 2),
    ("3:cpu,cpuacct:/docker/abc\n0::/\n", {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "400000\n",
                                            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"}, 4),
    ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 64),
    ("0::/\n", {"cpu.max": "garbage\n"}, 64),
])
def test_usable_cores_honour_a_cpu_quota(tmp_path, monkeypatch, membership, files, expected):
    fake_cgroups(tmp_path, monkeypatch, membership, files)
    assert cores.usable_cores() == expected


def test_without_cgroups_the_affinity_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "MEMBERSHIP", tmp_path / "missing")
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert cores.usable_cores() == 3
