"""SM2 backends: one adapter per library, all speaking the :class:`~.base.SM2Backend` protocol."""
