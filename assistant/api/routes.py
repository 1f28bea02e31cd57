"""Search and feedback (``v1``, behind the API keys) and the health endpoints (``router``, open)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse

from assistant.api.deps import assistant_of, require_api_key
from assistant.api.feedback import save_feedback
from assistant.api.schemas import FeedbackRequest, error_responses

router = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=error_responses(401))


@v1.get("/search", tags=["search"])
def search(
    request: Request, q: str = Query(min_length=1, max_length=4000), k: int = Query(5, ge=1, le=50)
) -> list:
    """Retrieval only: the same list as ``assistant search --json``."""
    result = assistant_of(request).search(q, k)
    return [hit.to_dict() for hit in result.hits]


@v1.post("/feedback", tags=["feedback"], status_code=201, responses=error_responses(400, 404, 413))
async def feedback(body: FeedbackRequest, request: Request, background: BackgroundTasks) -> JSONResponse:
    """Record 👍/👎 and/or an outcome; the same vote sent twice is stored once (200)."""
    result, created = await save_feedback(
        request,
        background,
        interaction_id=body.interaction_id,
        rating=body.rating,
        resolution=body.resolution,
        comment=body.comment,
        voter=body.voter,
        idempotency_key=body.idempotency_key,
    )
    return JSONResponse(result, status_code=201 if created else 200, background=background)


@router.get("/healthz", tags=["health"])
def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses={503: {"description": "Not ready yet (same body)"}})
def readyz(request: Request) -> JSONResponse:
    """Models and index are loaded and a release is active (503 until then)."""
    assistant = assistant_of(request)
    serving = assistant.loaded
    body = {
        "ready": assistant.ready,
        "release": serving.release_id if serving else None,
        "chunks": len(serving.retriever.snapshot.chunks) if serving else 0,
    }
    if not assistant.ready:
        body["detail"] = (
            "loading models" if serving is None else "no release is active: run `assistant ingest`"
        )
    return JSONResponse(body, status_code=200 if assistant.ready else 503)
