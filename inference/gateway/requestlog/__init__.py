"""Request/response logs of the gateway, masked before storage, for the data loop (6.3.1.1.7 a–c).

The gateway builds a :class:`RequestRecord` per request and hands it to
:class:`RequestLogSink` (``submit`` never blocks; a background task masks PII and writes
batches). ``router`` serves query, filtering (e.g. failed cases) and a ``chat-jsonl`` export;
:func:`service_stats` / :func:`variant_stats` aggregate volume, success rate, latency
percentiles and tokens for model services and traffic-split variants.
"""

from inference.gateway.requestlog.hooks import start_request_log, stop_request_log
from inference.gateway.requestlog.models import InferenceRequestLog
from inference.gateway.requestlog.query import LogFilter
from inference.gateway.requestlog.record import RequestRecord
from inference.gateway.requestlog.redaction import LogBounds
from inference.gateway.requestlog.router import router
from inference.gateway.requestlog.sink import RequestLogSink
from inference.gateway.requestlog.stats import service_stats, variant_stats

__all__ = [
    "InferenceRequestLog",
    "LogBounds",
    "LogFilter",
    "RequestLogSink",
    "RequestRecord",
    "router",
    "service_stats",
    "start_request_log",
    "stop_request_log",
    "variant_stats",
]
