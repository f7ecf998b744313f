"""A small synthetic trace in the openb CSV format (for tests and demos; not real data)."""

from __future__ import annotations

import random
from pathlib import Path

NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model\n"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def write_synthetic_openb(folder: Path, *, nodes: int = 24, pods: int = 300, seed: int = 3) -> Path:
    """Write openb-format CSVs (8-GPU G2, 2-GPU T4 and CPU nodes; an openb-like pod mix) into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [NODE_HEADER]
    for i in range(nodes):
        gpus, model = [(8, "G2"), (2, "T4"), (0, "")][i % 3]
        lines.append(f"openb-node-{i:04d},{96000 if gpus else 32000},{393216},{gpus},{model}\n")
    (folder / "openb_node_list_all_node.csv").write_text("".join(lines))
    rows = [POD_HEADER]
    t = 0
    for i in range(pods):
        t += rng.randint(0, 300)
        kind = rng.random()
        if kind < 0.45:
            num, milli = 1, rng.choice([160, 320, 470, 810])
        elif kind < 0.85:
            num, milli = 1, 1000
        elif kind < 0.95:
            num, milli = 0, 0
        else:
            num, milli = rng.choice([2, 4, 8]), 1000
        spec = "T4" if rng.random() < 0.05 and num else ""
        end = t + rng.randint(60, 20000)
        rows.append(
            f"openb-pod-{i:04d},{rng.choice([2000, 4000, 8000])},8192,{num},{milli},{spec},"
            f"LS,Running,{t},{end},{t}\n"
        )
    (folder / "openb_pod_list_default.csv").write_text("".join(rows))
    return folder
