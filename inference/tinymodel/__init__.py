"""The project's tiny Llama model and tokenizer, built from local text (no downloads).

Entry point: :func:`inference.tinymodel.builder.build_tiny_llama` (needs torch and transformers,
so it is not imported here); the CLI is ``inference.tinymodel.cli:app``.
"""
