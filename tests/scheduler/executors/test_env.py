"""The placement environment, table-driven: ranks, devices per vendor, shares, simulation, resume."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.executors.env import PlacementInfo, master_port, placement_env

BASE = PlacementInfo(
    job_id="job_1", task="w-1", rank=1, world_size=4, local_rank=0, node="n1", master_addr="10.0.0.1"
)


def at(**changes: object) -> PlacementInfo:
    return replace(BASE, **changes)  # type: ignore[arg-type]


CASES = [
    (
        BASE,
        {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "0", "MASTER_ADDR": "10.0.0.1", "STIC_SIMULATED": "0"},
        ["CUDA_VISIBLE_DEVICES"],
    ),
    (
        at(vendor="nvidia", devices=(2, 3), accel_milli=1000, simulated=True),
        {"CUDA_VISIBLE_DEVICES": "2,3", "STIC_SIMULATED": "1"},
        ["STIC_ACCEL_COMPUTE_MILLI"],
    ),
    (
        at(vendor="huawei-ascend", devices=(0,), accel_milli=1000),
        {"ASCEND_RT_VISIBLE_DEVICES": "0"},
        ["CUDA_VISIBLE_DEVICES"],
    ),
    (at(vendor="cambricon", devices=(1,), accel_milli=1000), {"MLU_VISIBLE_DEVICES": "1"}, []),
    (at(vendor="hygon", devices=(1,), accel_milli=1000), {"HIP_VISIBLE_DEVICES": "1"}, []),
    (at(vendor="kunlunxin", devices=(0, 1), accel_milli=1000), {"XPU_VISIBLE_DEVICES": "0,1"}, []),
    (
        at(vendor="nvidia", devices=(5,), accel_milli=250, accel_memory_mib=8192),
        {
            "CUDA_VISIBLE_DEVICES": "5",
            "STIC_ACCEL_COMPUTE_MILLI": "250",
            "STIC_ACCEL_MEMORY_MIB": "8192",
            "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE": "25",
        },
        [],
    ),
]


@pytest.mark.parametrize(("info", "expected", "absent"), CASES)
def test_placement_env(info: PlacementInfo, expected: dict[str, str], absent: list[str]) -> None:
    env = placement_env(info, checkpoint_dir="/ck")
    assert {k: env[k] for k in expected} == expected
    assert env["STIC_CHECKPOINT_DIR"] == "/ck" and "STIC_RESUME_FROM" not in env
    assert not set(absent) & set(env)


def test_placement_variables_win_over_user_env_and_resume_is_passed() -> None:
    env = placement_env(
        BASE, checkpoint_dir="/ck", resume_from="/ck/step-3", user_env={"RANK": "9", "MY_VAR": "x"}
    )
    assert env["RANK"] == "1" and env["MY_VAR"] == "x" and env["STIC_RESUME_FROM"] == "/ck/step-3"


def test_master_port_is_stable_per_attempt_and_in_range() -> None:
    assert master_port("job_1", 0) == master_port("job_1", 0)
    assert 20000 <= master_port("job_1", 1) < 30000
