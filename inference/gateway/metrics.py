"""Gateway metrics (Prometheus): requests, tokens, latency and time to first token, per model.

``model`` is the name the client sent (a service or a route), so cardinality is bounded by the
number of configured services and routes; tenants are not a label.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter(
    "stic_gateway_requests_total",
    "OpenAI API requests through the gateway, by model, operation and HTTP status.",
    ["model", "operation", "status"],
)
TOKENS = Counter(
    "stic_gateway_tokens_total",
    "Tokens accounted by the gateway, by model and kind (prompt or completion).",
    ["model", "kind"],
)
LATENCY = Histogram(
    "stic_gateway_request_seconds",
    "End-to-end latency seen by the gateway, by model and operation.",
    ["model", "operation"],
    buckets=_LATENCY_BUCKETS,
)
TTFT = Histogram(
    "stic_gateway_time_to_first_token_seconds",
    "Time from request arrival to the first streamed content, by model.",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
RETRIES = Counter(
    "stic_gateway_failovers_total",
    "Requests retried on another replica before the first byte, by model.",
    ["model"],
)
