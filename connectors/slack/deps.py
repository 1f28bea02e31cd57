"""What every listener needs, handed to it by bolt as ``context["support"]``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.config import Settings
from assistant.escalation import Notifier
from assistant.pipeline import Assistant
from connectors.slack.client import Poster
from connectors.slack.leads import Leads

CONTEXT_KEY = "support"


@dataclass
class SupportDeps:
    """The assistant, its settings, the paced poster, the lead check and the escalation targets."""

    assistant: Assistant
    settings: Settings
    poster: Poster
    leads: Leads
    notifiers: Sequence[Notifier] = field(default_factory=list)

    @property
    def store(self):
        return self.assistant.store


def support(context) -> SupportDeps:
    """The deps of the app this request came to."""
    return context[CONTEXT_KEY]
