"""Support leads in Slack: review posts, Approve / Correct (modal) / Reject, lead-only, conflicts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from assistant.store.models import CuratedAnswerRow, FlagRow, ReviewActionRow
from connectors.slack import blocks
from tests.connectors.slack.conftest import LEAD, REVIEW_CHANNEL, action_value, all_text

CORRECTED = "Refunds reach your card within 3 business days of the return arriving."


def _flagged_answer(slack) -> dict:
    """Ask, answer, press 👎: returns the review post made for leads."""
    slack.mention("How long does a refund take?")
    final = slack.final_answer()[0]
    message = {"ts": final.params["ts"], "thread_ts": "1", "blocks": final.params["blocks"]}
    value = action_value(final.params["blocks"], blocks.ACTION_DOWN)
    slack.click(blocks.ACTION_DOWN, value, user="UCUSTOMER", message=message, channel="CSUPPORT")
    post = slack.mock.wait_for("chat.postMessage", lambda c: c.params["channel"] == REVIEW_CHANNEL)[0]
    return {"ts": post.response["ts"], "blocks": post.params["blocks"], "text": post.params["text"]}


def _flag(assistant) -> FlagRow:
    with assistant.store.session() as session:
        return session.scalars(select(FlagRow)).one()


def test_correct_opens_a_modal_and_the_correction_is_served_at_once(slack, slack_assistant) -> None:
    review_post = _flagged_answer(slack)
    assert "How long does a refund take?" in all_text(review_post["blocks"])
    value = action_value(review_post["blocks"], blocks.ACTION_CORRECT)
    assert (
        slack.click(
            blocks.ACTION_CORRECT, value, user=LEAD, message=review_post, channel=REVIEW_CHANNEL
        ).status_code
        == 200
    )

    view = slack.mock.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == blocks.CORRECT_VIEW
    answer_input = next(b for b in view["blocks"] if b.get("block_id") == blocks.ANSWER_BLOCK)
    assert "5 business days" in answer_input["element"]["initial_value"]  # prefilled with the answer
    sources = next(b for b in view["blocks"] if b.get("block_id") == blocks.SOURCES_BLOCK)
    assert "refunds.md" in [o["value"] for o in sources["element"]["options"]]

    values = {
        blocks.ANSWER_BLOCK: {blocks.ANSWER_INPUT: {"type": "plain_text_input", "value": CORRECTED}},
        blocks.SOURCES_BLOCK: {
            blocks.SOURCES_INPUT: {
                "type": "multi_static_select",
                "selected_options": [{"text": {"type": "plain_text", "text": "x"}, "value": "refunds.md"}],
            }
        },
    }
    assert slack.submit(view, values, user=LEAD).status_code == 200
    updated = slack.mock.wait_for("chat.update", lambda c: c.params["channel"] == REVIEW_CHANNEL)[0]
    assert updated.params["ts"] == review_post["ts"]
    assert f"Corrected by <@{LEAD}>" in all_text(updated.params["blocks"])
    assert not any(b["type"] == "actions" for b in updated.params["blocks"])
    flag = _flag(slack_assistant)
    assert (flag.status, flag.reviewed_by) == ("corrected", f"slack:{LEAD}")
    with slack_assistant.store.session() as session:
        curated = session.scalars(select(CuratedAnswerRow)).one()
    assert (curated.answer, curated.doc_ids) == (CORRECTED, ["refunds.md"])

    slack.mention("How long does a refund take to arrive?", channel="CSUPPORT")  # a paraphrase
    final = slack.final_answer(count=2)[1]
    text = all_text(final.params["blocks"])
    assert CORRECTED in text and blocks.VERIFIED in text


def test_approve_and_reject_update_the_review_message(slack, slack_assistant) -> None:
    review_post = _flagged_answer(slack)
    value = action_value(review_post["blocks"], blocks.ACTION_REJECT)
    slack.click(blocks.ACTION_REJECT, value, user=LEAD, message=review_post, channel=REVIEW_CHANNEL)
    updated = slack.mock.wait_for("chat.update", lambda c: c.params["channel"] == REVIEW_CHANNEL)[0]
    assert "Rejected by" in all_text(updated.params["blocks"])
    assert _flag(slack_assistant).status == "rejected"

    # a second lead pressing Approve on the stale message: refused, told who acted first
    slack.click(blocks.ACTION_APPROVE, value, user=LEAD, message=review_post, channel=REVIEW_CHANNEL)
    note = slack.mock.wait_for("chat.postEphemeral", lambda c: c.params["channel"] == REVIEW_CHANNEL)[0]
    assert "got there first" in note.params["text"]
    with slack_assistant.store.session() as session:
        assert [a.action for a in session.scalars(select(ReviewActionRow))] == ["reject"]


def test_non_leads_are_refused(slack, slack_assistant) -> None:
    review_post = _flagged_answer(slack)
    value = action_value(review_post["blocks"], blocks.ACTION_APPROVE)
    slack.click(blocks.ACTION_APPROVE, value, user="USTRANGER", message=review_post, channel=REVIEW_CHANNEL)
    note = slack.mock.wait_for("chat.postEphemeral", lambda c: c.params["user"] == "USTRANGER")[0]
    assert "Only support leads" in note.params["text"]
    assert _flag(slack_assistant).status == "open"
    slack.click(blocks.ACTION_CORRECT, value, user="USTRANGER", message=review_post, channel=REVIEW_CHANNEL)
    slack.mock.wait_for("chat.postEphemeral", lambda c: c.params["user"] == "USTRANGER", count=2)
    assert not slack.mock.of("views.open")


@pytest.mark.parametrize("slack_overrides", [{"slack_lead_users": "", "slack_lead_group": "SLEADS"}])
def test_lead_group_members_may_act(slack, slack_assistant) -> None:
    slack.mock.group_members = ["UGROUPLEAD"]
    review_post = _flagged_answer(slack)
    value = action_value(review_post["blocks"], blocks.ACTION_APPROVE)
    slack.click(blocks.ACTION_APPROVE, value, user="UGROUPLEAD", message=review_post, channel=REVIEW_CHANNEL)
    slack.mock.wait_for("chat.update", lambda c: c.params["channel"] == REVIEW_CHANNEL)
    assert _flag(slack_assistant).status == "approved"
    assert slack.mock.of("usergroups.users.list")[0].params["usergroup"] == "SLEADS"


def test_an_empty_correction_is_refused_in_the_modal(slack, slack_assistant) -> None:
    review_post = _flagged_answer(slack)
    value = action_value(review_post["blocks"], blocks.ACTION_CORRECT)
    slack.click(blocks.ACTION_CORRECT, value, user=LEAD, message=review_post, channel=REVIEW_CHANNEL)
    view = slack.mock.wait_for("views.open")[0].params["view"]
    values = {blocks.ANSWER_BLOCK: {blocks.ANSWER_INPUT: {"type": "plain_text_input", "value": "  "}}}
    response = slack.submit(view, values, user=LEAD)
    assert response.status_code == 200
    assert json.loads(response.text)["response_action"] == "errors"
    assert _flag(slack_assistant).status == "open"
