"""Start-up and shutdown hooks that run the request-log writer of the gateway app.

``app.state.inference_request_log`` is the started :class:`RequestLogSink`; shutdown stores
every record still queued.
"""

from __future__ import annotations

from fastapi import FastAPI

from inference.gateway.requestlog.sink import RequestLogSink


async def start_request_log(app: FastAPI) -> None:
    """Create and start ``app.state.inference_request_log``."""
    sink = RequestLogSink(app.state.database.engine, secret_key=app.state.settings.secret_key)
    await sink.start()
    app.state.inference_request_log = sink


async def stop_request_log(app: FastAPI) -> None:
    """Flush and stop the writer."""
    sink = getattr(app.state, "inference_request_log", None)
    if isinstance(sink, RequestLogSink):
        await sink.aclose()
