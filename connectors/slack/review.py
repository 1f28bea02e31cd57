"""Support leads in Slack: flagged answers posted to the review channel, Approve / Correct / Reject.

Every decision goes through :func:`assistant.review.actions.review`, like the admin UI, so a
correction is a curated answer at once. Each flag is posted once (claimed in the store), and
only leads (see :class:`~connectors.slack.leads.Leads`) may act.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from assistant.periodic import Periodic
from assistant.review.actions import ReviewConflict, ReviewError, review
from assistant.store.models import FlagRow, InteractionRow, utcnow
from connectors.slack import blocks, dedupe, threads
from connectors.slack.deps import SupportDeps, support

log = logging.getLogger(__name__)
SWEEP_WINDOW = timedelta(days=1)
SWEEP_LIMIT = 20
SWEEP_EVERY_S = 30.0
NOT_A_LEAD = (
    "Only support leads can review answers here. An admin can add you to "
    "ASSISTANT_SLACK_LEAD_USERS or the ASSISTANT_SLACK_LEAD_GROUP user group."
)


def _item(deps: SupportDeps, flag: FlagRow, interaction: InteractionRow) -> tuple[str, list]:
    permalink = None
    if interaction.channel == threads.CHANNEL:
        where = threads.location_of(deps.store, interaction.id)
        if where and where[1]:
            permalink = deps.poster.permalink(*where)
    return blocks.review_item(
        flag_id=flag.id,
        version=flag.version,
        reasons=flag.reasons,
        channel=interaction.channel,
        question=interaction.question,
        answer=interaction.answer,
        citations=interaction.citations,
        permalink=permalink,
    )


def _load(deps: SupportDeps, flag_id: int) -> tuple[FlagRow, InteractionRow] | None:
    with deps.store.session() as session:
        flag = session.get(FlagRow, flag_id)
        if flag is None:
            return None
        interaction = session.get(InteractionRow, flag.interaction_id)
        assert interaction is not None
        return flag, interaction


def post_flag(deps: SupportDeps, interaction_id: str) -> bool:
    """Post the open flag of ``interaction_id`` to the review channel once; True when posted."""
    channel = deps.settings.slack_review_channel
    if not channel:
        return False
    with deps.store.session() as session:
        flag = session.scalars(select(FlagRow).where(FlagRow.interaction_id == interaction_id)).one_or_none()
        interaction = session.get(InteractionRow, interaction_id)
    if flag is None or interaction is None or flag.status != "open":
        return False
    if interaction.channel != threads.CHANNEL and not deps.settings.slack_review_all_flags:
        return False
    key = f"review:{flag.id}"
    if not dedupe.claim(deps.store, key):
        return False
    try:
        text, body = _item(deps, flag, interaction)
        deps.poster.post(channel, text, blocks=body)
    except Exception:
        dedupe.release(deps.store, key)  # a later sweep tries again
        raise
    return True


def sweep(deps: SupportDeps) -> int:
    """Post the recent open flags not posted yet (all channels with ``slack_review_all_flags``)."""
    if not deps.settings.slack_review_channel:
        return 0
    query = (
        select(FlagRow.interaction_id)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(FlagRow.status == "open", FlagRow.updated_at >= utcnow() - SWEEP_WINDOW)
        .order_by(FlagRow.id)
        .limit(SWEEP_LIMIT)
    )
    if not deps.settings.slack_review_all_flags:
        query = query.where(InteractionRow.channel == threads.CHANNEL)
    with deps.store.session() as session:
        ids = list(session.scalars(query))
    posted = 0
    for interaction_id in ids:
        try:
            posted += post_flag(deps, interaction_id)
        except Exception:
            log.exception("could not post flag of interaction %s to Slack", interaction_id)
    return posted


def review_sweeper(deps: SupportDeps, every_s: float = SWEEP_EVERY_S) -> Periodic | None:
    """With ``slack_review_all_flags``, a chore posting flags from every channel every ``every_s``."""
    if not (deps.settings.slack_review_channel and deps.settings.slack_review_all_flags):
        return None
    return Periodic("slack-review-sweeper", every_s, lambda: sweep(deps))


# --- listeners -------------------------------------------------------------------------------


def on_review_button(ack, body: dict, action: dict, context, client) -> None:
    """Approve / Reject apply at once; Correct opens the modal (leads only)."""
    ack()
    deps = support(context)
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or deps.settings.slack_review_channel
    message_ts = (body.get("message") or {}).get("ts")
    if not deps.leads.allows(user):
        deps.poster.ephemeral(channel, user, NOT_A_LEAD)
        return
    flag_id, version = blocks.parse_review_value(action["value"])
    if action["action_id"] == blocks.ACTION_CORRECT:
        loaded = _load(deps, flag_id)
        if loaded is None:
            deps.poster.ephemeral(channel, user, f"Flag {flag_id} no longer exists.")
            return
        flag, interaction = loaded
        documents = [(h.get("doc_id", ""), h.get("title", "")) for h in interaction.hits if h.get("doc_id")]
        cited = [c.get("doc_id", "") for c in interaction.citations]
        view = blocks.correct_modal(
            flag_id=flag_id,
            version=version,
            question=interaction.question,
            answer=interaction.answer,
            documents=documents,
            cited=cited,
            origin={"channel": channel, "ts": message_ts or ""},
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    what = "approve" if action["action_id"] == blocks.ACTION_APPROVE else "reject"
    apply(deps, flag_id, version, what, user, channel=channel, message_ts=message_ts)


def on_correct_submit(ack, body: dict, view: dict, context) -> None:
    """The modal's Save: a correction through the review actions (the curated answer is live)."""
    deps = support(context)
    values = view["state"]["values"]
    text = ((values.get(blocks.ANSWER_BLOCK) or {}).get(blocks.ANSWER_INPUT) or {}).get("value") or ""
    if not text.strip():
        ack(response_action="errors", errors={blocks.ANSWER_BLOCK: "Write the answer customers should get."})
        return
    user = body["user"]["id"]
    if not deps.leads.allows(user):
        ack(response_action="errors", errors={blocks.ANSWER_BLOCK: NOT_A_LEAD})
        return
    ack()
    picked = ((values.get(blocks.SOURCES_BLOCK) or {}).get(blocks.SOURCES_INPUT) or {}).get(
        "selected_options"
    )
    doc_ids = [option["value"] for option in picked or []]
    meta = json.loads(view.get("private_metadata") or "{}")
    apply(
        deps,
        int(meta["flag"]),
        int(meta["version"]),
        "correct",
        user,
        channel=meta.get("channel") or deps.settings.slack_review_channel,
        message_ts=meta.get("ts") or None,
        answer=text,
        doc_ids=doc_ids,
    )


def apply(
    deps: SupportDeps,
    flag_id: int,
    version: int,
    action: Any,
    user: str,
    *,
    channel: str,
    message_ts: str | None,
    answer: str | None = None,
    doc_ids: list[str] | None = None,
) -> bool:
    """Run one review action and show the outcome on the review message; True when it applied."""
    try:
        with deps.store.session() as session:
            review(
                session,
                flag_id,
                action,
                expected_version=version,
                actor=f"slack:{user}",
                answer=answer,
                doc_ids=doc_ids or (),
                embedder=deps.assistant.embedder,
            )
    except ReviewConflict as exc:
        deps.poster.ephemeral(channel, user, f"Another lead or new feedback got there first: {exc}")
        _refresh(deps, flag_id, channel, message_ts)
        return False
    except ReviewError as exc:
        deps.poster.ephemeral(channel, user, f"That did not work: {exc}")
        return False
    _refresh(deps, flag_id, channel, message_ts)
    return True


def _refresh(deps: SupportDeps, flag_id: int, channel: str, message_ts: str | None) -> None:
    """Redraw the review message: fresh buttons while open, else who did what."""
    loaded = _load(deps, flag_id)
    if loaded is None or not message_ts:
        return
    flag, interaction = loaded
    text, body = _item(deps, flag, interaction)
    if flag.status != "open":
        who = flag.reviewed_by or "someone"
        who = f"<@{who.removeprefix('slack:')}>" if who.startswith("slack:") else blocks.escape(who)
        outcome = f":white_check_mark: {flag.status.capitalize()} by {who}"
        if flag.curated_answer_id:
            outcome += " — now served as a verified answer"
        body = blocks.reviewed(body, outcome)
        text = f"{text}: {flag.status}"
    deps.poster.update(channel, message_ts, text, blocks=body)
