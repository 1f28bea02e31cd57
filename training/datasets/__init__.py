"""Versioned training sets built from the conversation log: SFT, preference (KTO) and retriever pairs.

Use :func:`build_datasets` at the start of a learning cycle. It reads the store (interactions,
feedback events, flags, curated answers) and the index snapshot of a release (for the source
texts the interactions saw), and writes ``<home>/datasets/<dataset_id>/``:

- ``sft/`` — a ``datasets.DatasetDict`` (``train``/``dev``) in TRL's conversational
  *prompt-completion* format: ``prompt`` is the chat messages exactly as
  :func:`~assistant.generation.prompts.build_messages` builds them when serving (instructions,
  earlier turns, numbered sources, question), ``completion`` is one assistant message.
  ``weight`` is ``reviewed_weight`` (1.0) for reviewed answers (enabled curated answers, via
  :func:`~assistant.review.examples.training_examples`) and ``outcome_weight`` for generated
  answers a voter rated 👍 *and* marked ``resolved``.
- ``kto/`` — unpaired preferences for TRL's ``KTOTrainer``: ``prompt``, ``completion``,
  ``label`` (True for 👍, False for 👎) from generated answers.
- ``pairs/`` — retriever pairs for sentence-transformers: ``anchor`` (the question),
  ``positive`` (the chunk that resolved it or that a lead picked), ``negative`` (a chunk cited in
  a 👎 answer to a near question, or None). Select ``anchor``/``positive`` (/``negative``)
  before training: the other columns are provenance.
- ``manifest.json`` — id, filters (:class:`~training.config.DatasetConfig`), counts, drops by
  reason, redactions by kind, each voter's share of the weight, the largest share one answer
  text's vote-derived rows carry (``max_answer_weight_share``), and every row's source
  interaction and feedback events; ``dataset_config.json`` — the config alone.

Safety rules, applied before anything is written: only reviewed items or outcome-weighted
votes; rejected items never; a voter's votes count on at most ``max_rows_per_voter``
interactions (once per interaction), a conversation gives at most ``max_rows_per_conversation``
vote-derived rows per kind, and one answer text (normalised completion) gives at most
``max_rows_per_answer`` vote-derived rows per kind, however many voters pushed it (a flood of
👍 on one planted answer adds weight, not information; reviewed rows are not capped); a lead's
verdict overrules votes (no 👍 row for a corrected answer, no 👎 row for an approved one);
conflicting votes on one answer give no row; every text (question, turns, sources, answers) is
PII-redacted; interactions and votes of ``exclude_user_ids`` and of erased customers
(tombstoned, :mod:`assistant.privacy`) are left out; duplicates (same normalised question and
completion) are kept once; the dev split is chosen by a stable hash of the conversation id,
never by turn.

The build is deterministic: the same store, snapshot and config give the same rows and the same
content hash. A build whose content already exists under ``out_dir`` returns that dataset
(``reused=True``) instead of writing a copy, so the id is stable. Too few SFT rows is a clean,
logged skip (``skipped=True``) that writes nothing.

The package, one step a module, in the order a build runs them:

- :mod:`~training.datasets.log` — reading the conversation log (votes, flags, reviewed answers);
- :mod:`~training.datasets.sources` — the source texts from the snapshot, and PII redaction;
- :mod:`~training.datasets.rows` — building the rows of each kind from the log;
- :mod:`~training.datasets.selection` — de-duplication, the caps, the dev split;
- :mod:`~training.datasets.writing` — the content hash, the manifest, the folder on disk;
- :mod:`~training.datasets.build` — :func:`build_datasets`, which runs them.
"""

from __future__ import annotations

from training.datasets.build import DatasetBuild, DatasetError, build_datasets
from training.datasets.rows import KINDS
from training.datasets.selection import SPLITS, split_of
from training.datasets.writing import FORMAT_VERSION, MANIFEST_FILE, REVIEWED, max_answer_share

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "MANIFEST_FILE",
    "REVIEWED",
    "SPLITS",
    "DatasetBuild",
    "DatasetError",
    "build_datasets",
    "max_answer_share",
    "split_of",
]
