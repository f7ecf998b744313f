"""Child process of ``stic bench gateway``: a gateway app from ``--factory`` served on ``--port``.

The factory is ``module:function`` called as ``function(upstream_api_base=URL, model=NAME)`` and
returns an ASGI app that forwards ``POST /v1/chat/completions`` for ``model`` to the upstream.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any


def load_factory(spec: str) -> Callable[..., Any]:
    """Import ``module:function``; raises ``ValueError`` naming what is missing."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"gateway factory must look like module:function, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"gateway factory module {module_name!r} cannot be imported: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"{module_name!r} has no callable {attribute!r}")
    return factory


def main(argv: list[str] | None = None) -> None:
    """Build the gateway app and serve it on ``127.0.0.1:--port``."""
    from benchmarks.serving.procs import serve_asgi

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--factory", required=True)
    parser.add_argument("--upstream", required=True, help="Upstream API base, ending in /v1.")
    parser.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    app = load_factory(args.factory)(upstream_api_base=args.upstream, model=args.model)
    serve_asgi(app, port=args.port)


if __name__ == "__main__":
    main()
