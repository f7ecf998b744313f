"""``python -m inference.engines.builtin --model DIR --served-model-name NAME --port P``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from inference.engines.builtin.app import create_app
from inference.engines.builtin.runtime import TransformersRuntime
from inference.engines.builtin.serving import BuiltinServer
from inference.engines.builtin.worker import GenerationWorker


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (flags named as vLLM's where they mean the same)."""
    parser = argparse.ArgumentParser(prog="python -m inference.engines.builtin", description=__doc__)
    parser.add_argument("--model", required=True, type=Path, help="local transformers model directory")
    parser.add_argument(
        "--served-model-name", default=None, help="name clients use (default: directory name)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-num-seqs", type=int, default=1, help="requests generated at once (threads)")
    parser.add_argument("--max-waiting", type=int, default=64, help="queued requests before 503")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--simulated-npu-hbm-used-mib",
        type=float,
        default=None,
        help="expose a SIMULATED Ascend npu-exporter chip with this much HBM in use (tests, demos)",
    )
    parser.add_argument("--simulated-npu-hbm-total-mib", type=float, default=65536.0)
    parser.add_argument("--simulated-npu-utilization", type=float, default=0.0, help="percent")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model and serve it until interrupted."""
    args = parse_args(argv)
    try:
        runtime = TransformersRuntime(args.model, threads=args.threads)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = BuiltinServer(
        generator=runtime,
        served_model_name=args.served_model_name or args.model.name,
        worker=GenerationWorker(max_num_seqs=args.max_num_seqs, max_waiting=args.max_waiting),
    )
    if args.simulated_npu_hbm_used_mib is not None:
        server.metrics.simulate_npu(
            used_mib=args.simulated_npu_hbm_used_mib,
            total_mib=args.simulated_npu_hbm_total_mib,
            utilization_pct=args.simulated_npu_utilization,
        )
    uvicorn.run(create_app(server), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
