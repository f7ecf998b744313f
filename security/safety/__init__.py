"""Content safety (6.4.2 b): normalisation, keyword/regex/PII rules, semantic hook, decisions.

Modules: ``normalize`` (views with offset maps), ``keywords`` (automaton backends), ``pii``
(detectors), ``rules`` (the pack document), ``packs`` (compiled packs, registry), ``engine``
(``check`` and ``StreamChecker``), ``semantic`` (classifier hook), ``review`` (human-review
state machine), ``evaluate`` (precision/recall of a pack), ``cli``. Import from the modules;
this package deliberately re-exports nothing so that ``security.masking`` can import the
detectors without pulling in the engine.
"""
