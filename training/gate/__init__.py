"""The release gate: evaluate a candidate and the current release on the same sets, then decide.

- :mod:`training.gate.sets` — what a release is judged on (dev split, golden set, out-of-scope);
- :mod:`training.gate.scoring` — every metric of one release, per question;
- :mod:`training.gate.decision` — the verdict and the report kept with the run and the release;
- :mod:`training.gate.metrics` — ranx's retrieval metrics, shared with the benchmarks.

The cycle (:mod:`training.cycle`) runs it; a person can overrule it (``assistant flywheel promote``).
"""

from training.gate.decision import Verdict, decide, gate_report, paired_noise
from training.gate.scoring import ReleaseScores, evaluate_release, retrieval_per_item, retrieval_scores
from training.gate.sets import EvalItem, EvalSets, GoldenSetError, dev_items, load_golden, out_of_scope

__all__ = [
    "EvalItem",
    "EvalSets",
    "GoldenSetError",
    "ReleaseScores",
    "Verdict",
    "decide",
    "dev_items",
    "evaluate_release",
    "gate_report",
    "load_golden",
    "out_of_scope",
    "paired_noise",
    "retrieval_per_item",
    "retrieval_scores",
]
