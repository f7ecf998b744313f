"""The OpenAI-compatible inference gateway: routes, routing, limits, encryption, logs, splits."""
