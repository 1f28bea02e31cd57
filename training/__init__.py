"""The learning cycle's training side: datasets from the conversation log, PII redaction, fine-tunes.

- :mod:`training.redact` — :func:`~training.redact.redact` / :func:`~training.redact.find_pii`.
- :mod:`training.config` — :class:`~training.config.DatasetConfig`, the filters of a dataset build.
- :mod:`training.datasets` — :func:`~training.datasets.build_datasets`: versioned SFT, KTO and
  retriever-pair sets with a manifest (needs the ``train`` extra).

Nothing is imported here, so ``import training.redact`` stays light.
"""
