"""Feedback over HTTP: :func:`assistant.feedback.feedback_write`, its errors as statuses, and the hand-off.

``POST /v1/feedback`` and the widget's ``POST /widget/v1/feedback`` both call
:func:`save_feedback`, so a vote means the same thing wherever it comes from.
"""

from __future__ import annotations

from typing import Unpack

from fastapi import BackgroundTasks, HTTPException, Request

from assistant.api.deps import assistant_of
from assistant.escalation import notify
from assistant.feedback import FeedbackEvent, feedback_write


async def save_feedback(
    request: Request, background: BackgroundTasks, **event: Unpack[FeedbackEvent]
) -> tuple[dict, bool]:
    """Store one feedback event and (re)flag its interaction; ``(result, created)``.

    A new escalation is also sent to the app's escalation notifiers (see
    :func:`assistant.api.app.create_app`), after the response. Unknown interactions answer 404,
    invalid or conflicting feedback 400. Async: a vote waits for its commit on the event loop,
    not on a thread of the pool.
    """
    assistant = assistant_of(request)
    interaction_id = event["interaction_id"]
    try:
        event_id, created = await assistant.store.write_async(feedback_write(assistant.settings, **event))
    except LookupError as exc:
        raise HTTPException(404, f"no interaction {interaction_id!r}") from exc
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if created and event.get("resolution") == "escalated":
        notifiers = request.app.state.escalation_notifiers
        background.add_task(notify, assistant.store, notifiers, interaction_id, event.get("comment"))
    return {"id": event_id, "interaction_id": interaction_id, "created": created}, created
