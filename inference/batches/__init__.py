"""Offline batch inference in the OpenAI shape: ``/v1/files`` and ``/v1/batches``.

Files are JSONL request lists (purpose ``batch``) or the output and error files a batch
produces; their content is stored under ``<data_dir>/files/<tenant>/<file id>``, sealed with
SM4-GCM under a KMS data key bound to ``{tenant, file}`` when the KMS is mounted.
A batch becomes one scheduler job of type ``batch`` whose task runs
:mod:`inference.batches.worker`; the worker sends every line to the inference API and
reports each result back once; :mod:`inference.batches.controller` submits, watches, cancels,
expires and finalises batches.
"""
