"""Serving benchmarks: ``stic bench serve`` (an OpenAI endpoint under load) and ``stic bench gateway``.

Definitions follow vLLM's ``vllm bench serve`` (see :mod:`benchmarks.serving.metrics`).
"""
