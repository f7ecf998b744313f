"""Loader for the Alibaba openb GPU cluster trace (cluster-trace-gpu-v2023, Weng et al. ATC'23).

Node files: ``sn,cpu_milli,memory_mib,gpu,model``. Pod files: ``name,cpu_milli,memory_mib,num_gpu,
gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`` (some sampled files
carry only the first five columns; their pods then all arrive at time 0 and never finish).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TRACE_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "openb"
NODE_FILE = "openb_node_list_all_node.csv"
POD_FILE = "openb_pod_list_default.csv"
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")


class TraceError(ValueError):
    """The trace is missing or malformed; the message names the file, row and column."""


@dataclass(frozen=True, slots=True)
class TraceNode:
    """One machine of the trace."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str


@dataclass(frozen=True, slots=True)
class TracePod:
    """One pod of the trace; ``gpu_milli`` < 1000 with one GPU means a shared GPU."""

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...]
    qos: str
    creation_time: int
    deletion_time: int | None
    scheduled_time: int | None

    @property
    def gpu_demand_milli(self) -> int:
        """Milli-GPUs requested."""
        return self.num_gpu * 1000 if self.num_gpu != 1 else self.gpu_milli

    @property
    def duration(self) -> float | None:
        """Run time in seconds (deletion minus scheduled, else minus creation); None if unknown."""
        if self.deletion_time is None:
            return None
        start = self.scheduled_time if self.scheduled_time is not None else self.creation_time
        return float(max(1, self.deletion_time - start))


@dataclass(frozen=True)
class OpenbTrace:
    """Nodes and pods (pods sorted by creation time, then name)."""

    nodes: tuple[TraceNode, ...]
    pods: tuple[TracePod, ...]
    source: str


def _rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise TraceError(
            f"{path}: trace file not found (download the csv/ folder of cluster-trace-gpu-v2023)"
        )
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise TraceError(f"{path.name}: missing column {missing[0]!r}")
        return list(reader)


def _int(path: Path, line: int, row: dict[str, str], column: str, *, optional: bool = False) -> int | None:
    raw = (row.get(column) or "").strip()
    if raw == "":
        if optional:
            return None
        raise TraceError(f"{path.name}:{line}: column {column!r} is empty")
    try:
        return int(float(raw))
    except ValueError:
        raise TraceError(f"{path.name}:{line}: column {column!r} is not a number: {raw!r}") from None


def load_openb(
    trace_dir: Path | str = DEFAULT_TRACE_DIR,
    *,
    pod_file: str = POD_FILE,
    node_file: str = NODE_FILE,
    limit: int | None = None,
) -> OpenbTrace:
    """Read nodes and (the first ``limit``) pods; raises :class:`TraceError` on missing/bad data."""
    base = Path(trace_dir).resolve()
    npath, ppath = base / node_file, base / pod_file
    nodes = []
    for i, row in enumerate(_rows(npath, NODE_COLUMNS), start=2):
        gpus = _int(npath, i, row, "gpu") or 0
        model = row["model"].strip()
        if gpus and not model:
            raise TraceError(f"{npath.name}:{i}: column 'model' is empty for a GPU node")
        nodes.append(
            TraceNode(
                row["sn"],
                _int(npath, i, row, "cpu_milli") or 0,
                _int(npath, i, row, "memory_mib") or 0,
                gpus,
                model,
            )
        )
    pods: list[TracePod] = []
    for i, row in enumerate(_rows(ppath, POD_COLUMNS), start=2):
        if limit is not None and len(pods) >= limit:
            break
        num_gpu = _int(ppath, i, row, "num_gpu") or 0
        gpu_milli = _int(ppath, i, row, "gpu_milli") or 0
        if num_gpu > 1 and gpu_milli not in (0, 1000):
            raise TraceError(f"{ppath.name}:{i}: multi-GPU pods must use whole GPUs (gpu_milli {gpu_milli})")
        spec = tuple(s for s in (row.get("gpu_spec") or "").split("|") if s)
        pods.append(
            TracePod(
                row["name"],
                _int(ppath, i, row, "cpu_milli") or 0,
                _int(ppath, i, row, "memory_mib") or 0,
                num_gpu,
                gpu_milli if num_gpu == 1 else (1000 if num_gpu else 0),
                tuple(dict.fromkeys(spec)),
                (row.get("qos") or "LS").strip() or "LS",
                _int(ppath, i, row, "creation_time", optional=True) or 0,
                _int(ppath, i, row, "deletion_time", optional=True),
                _int(ppath, i, row, "scheduled_time", optional=True),
            )
        )
    pods.sort(key=lambda p: (p.creation_time, p.name))
    return OpenbTrace(tuple(nodes), tuple(pods), str(base))
