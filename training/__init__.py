"""The learning cycle: datasets from the conversation log, fine-tunes, the gate, a candidate release.

- :mod:`training.cycle` — :func:`~training.cycle.run_cycle`, one whole cycle (``assistant flywheel run``,
  reached through :mod:`training.plugin`); :mod:`training.stages` — its training stages.
- :mod:`training.datasets` — :func:`~training.datasets.build_datasets`: versioned SFT, KTO and
  retriever-pair sets with a manifest (a package: log, sources, rows, selection, writing, build).
- :mod:`training.lora`, :mod:`training.kto`, :mod:`training.retriever` — the fine-tunes.
- :mod:`training.config`, :mod:`training.defaults` — the dataset filters; configs whose defaults
  come from ``Settings``.
- :mod:`training.redact` — :func:`~training.redact.redact` / :func:`~training.redact.find_pii`.
- :mod:`training.gate` — evaluate a candidate against the current release and decide.

Nothing is imported here, so ``import training.redact`` stays light.
"""
