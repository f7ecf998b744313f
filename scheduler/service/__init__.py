"""The scheduler's control-plane service: inventory, queues and jobs over HTTP, backed by the database."""
