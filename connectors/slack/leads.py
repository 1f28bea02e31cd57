"""Who may act on review items in Slack: named user ids, or members of a user group."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient

from assistant.config import Settings

log = logging.getLogger(__name__)
GROUP_TTL_S = 60.0


class Leads:
    """``allows(user_id)``: in ``ASSISTANT_SLACK_LEAD_USERS`` or the ``ASSISTANT_SLACK_LEAD_GROUP``.

    Group members come from ``usergroups.users.list`` and are cached for a minute. With
    neither setting nobody may act (reviews then happen in the admin UI).
    """

    def __init__(self, settings: Settings, client: WebClient, ttl_s: float = GROUP_TTL_S) -> None:
        self.users = settings.slack_lead_user_ids
        self.group = settings.slack_lead_group.strip()
        self.client = client
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._members: frozenset[str] = frozenset()
        self._fetched = -float("inf")

    @property
    def configured(self) -> bool:
        return bool(self.users or self.group)

    def allows(self, user_id: str | None) -> bool:
        if not user_id:
            return False
        if user_id in self.users:
            return True
        return bool(self.group) and user_id in self._group_members()

    def _group_members(self) -> frozenset[str]:
        with self._lock:
            if time.monotonic() - self._fetched > self.ttl_s:
                try:
                    users = self.client.usergroups_users_list(usergroup=self.group).get("users") or []
                    self._members = frozenset(users)
                    self._fetched = time.monotonic()
                except Exception:  # keep the last known members; try again next time
                    log.exception("could not read the members of Slack user group %s", self.group)
            return self._members
