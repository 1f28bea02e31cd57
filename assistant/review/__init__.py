"""The support-lead loop: flag weak answers, review them, serve corrections at once, find gaps.

- :mod:`assistant.review.flags` — which interactions need a look, how urgent, grouped by meaning.
- :mod:`assistant.review.actions` — approve / correct / gap / reject, audited, conflict-safe.
- :mod:`assistant.review.curated` — curated answers: storage, CSV, and the live matcher.
- :mod:`assistant.review.gaps` — unanswered questions grouped, exported, cleared by ingests.
"""

from assistant.review.actions import ReviewConflict, ReviewError
from assistant.review.flags import flag_interaction, list_flags, recluster

__all__ = ["ReviewConflict", "ReviewError", "flag_interaction", "list_flags", "recluster"]
