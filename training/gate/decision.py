"""The gate's decision: does a candidate beat or match the current release on the same sets?

:func:`decide` passes a candidate when it meets every floor and no metric is worse than the
current release's by more than ``max_drop`` *and* by more than sampling noise explains (twice
the standard error of the paired per-question differences: on 8 answered questions one answer
more declined moves a share by 0.125, which says little). Optionally, no golden question's
answer may move more than ``max_answer_drop`` further from its reference: a mean can hide one
answer turned wrong (a poisoned log teaching a planted answer) while others improve.
:func:`gate_report` is what the run and the release keep of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.gate.scoring import ReleaseScores
from training.gate.sets import EvalSets

NOISE_Z = 2.0  # a drop must exceed this many standard errors of the paired differences to count


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]


def paired_noise(candidate: Sequence[float], current: Sequence[float]) -> float:
    """``NOISE_Z`` standard errors of the mean per-question difference (0 without two pairs)."""
    if len(candidate) != len(current) or len(candidate) < 2:
        return 0.0
    differences = np.asarray(candidate) - np.asarray(current)
    return NOISE_Z * float(np.std(differences, ddof=1)) / math.sqrt(len(differences))


IN_SCOPE = ("dev.", "golden.")  # the sets of questions the knowledge base should answer


def decide(
    candidate: ReleaseScores,
    current: ReleaseScores | None,
    *,
    floors: dict[str, float],
    max_drop: float,
    max_answer_drop: float | None = None,
) -> Verdict:
    """Pass when something in scope was measured, every floor is met, no metric fell below
    ``current`` by more than ``max_drop`` and the sampling noise, and (when ``max_answer_drop``
    is set) no golden answer's similarity to its reference fell more than ``max_answer_drop``."""
    reasons = []
    if not any(metric.startswith(IN_SCOPE) for metric in candidate.metrics):
        # out-of-scope abstention alone says nothing about the answers customers came for
        reasons.append(
            "nothing in scope was measured: no dev questions and no golden set "
            "(set ASSISTANT_GOLDEN_SET, or activate by hand with `assistant flywheel promote`)"
        )
    for metric, floor in sorted(floors.items()):
        value = candidate.metrics.get(metric)
        if value is None:
            reasons.append(f"{metric} was not measured (floor {floor})")
        elif value < floor:
            reasons.append(f"{metric} {value:.3f} is below the floor {floor:.3f}")
    previous = current or ReleaseScores({})
    for metric, before in sorted(previous.metrics.items()):
        after = candidate.metrics.get(metric)
        if after is None or after >= before - max_drop:
            continue
        noise = paired_noise(candidate.per_question.get(metric, []), previous.per_question.get(metric, []))
        if before - after > noise:
            allowed = f"more than {max_drop:.3f}" + (f" and the noise, {noise:.3f}" if noise else "")
            reasons.append(f"{metric} fell from {before:.3f} to {after:.3f} ({allowed})")
    golden = previous.golden_answers.items() if max_answer_drop is not None else ()
    for question, before in golden:
        after = candidate.golden_answers.get(question)
        if after is not None and max_answer_drop is not None and after < before - max_answer_drop:
            reasons.append(
                f"golden answer to {question!r} moved away from its reference: similarity "
                f"{before:.3f} -> {after:.3f} (more than {max_answer_drop:.3f})"
            )
    return Verdict(passed=not reasons, reasons=reasons)


def gate_report(
    *,
    candidate_id: str,
    current_id: str | None,
    candidate: ReleaseScores,
    current: ReleaseScores | None,
    verdict: Verdict,
    sets: EvalSets,
    floors: dict[str, float],
    max_drop: float,
    max_answer_drop: float | None,
) -> dict[str, Any]:
    """The report stored with the run and the release: per metric both values, the verdict and why."""
    before = current or ReleaseScores({})

    def pairs(now: dict[str, float], then: dict[str, float]) -> dict[str, dict[str, float | None]]:
        return {
            key: {"candidate": now.get(key), "current": then.get(key)} for key in sorted(set(now) | set(then))
        }

    return {
        "candidate": candidate_id,
        "current": current_id,
        "verdict": "passed" if verdict.passed else "failed",
        "reasons": verdict.reasons,
        "metrics": pairs(candidate.metrics, before.metrics),
        "golden_answers": pairs(candidate.golden_answers, before.golden_answers),
        "sets": sets.sizes(),
        "floors": floors,
        "max_drop": max_drop,
        "max_answer_drop": max_answer_drop,
    }
