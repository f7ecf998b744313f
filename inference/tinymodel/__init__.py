"""The project's tiny Llama model and tokenizer, built from local text (no downloads)."""
