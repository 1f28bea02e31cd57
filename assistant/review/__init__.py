"""The support-lead loop: flag weak answers, review them, serve corrections at once, find gaps.

- :mod:`assistant.review.flags` — which interactions need a look, and how urgently.
- :mod:`assistant.review.bursts` — coordinated voting: many voters 👍 one answer at once.
- :mod:`assistant.review.clusters` — open flags grouped by meaning, priorities by frequency.
- :mod:`assistant.review.actions` — approve / correct / gap / reject, audited, conflict-safe.
- :mod:`assistant.review.curated` — curated answers: storage, CSV, and the live matcher.
- :mod:`assistant.review.gaps` — unanswered questions grouped, exported, cleared by ingests.
"""

from assistant.review.actions import ReviewConflict, ReviewError
from assistant.review.clusters import recluster
from assistant.review.flags import flag_interaction, list_flags

__all__ = ["ReviewConflict", "ReviewError", "flag_interaction", "list_flags", "recluster"]
