"""The builtin engine: a small transformers model on CPU behind the OpenAI API (the embedded default)."""
