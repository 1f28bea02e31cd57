"""The admin UI under ``/admin``: log in, work the review queue, curated answers, knowledge gaps.

Server-rendered Jinja2 pages (autoescaped) and plain HTML forms, no JavaScript, so the strict
Content-Security-Policy holds. Every page needs a login (a 401 sends the browser to the login
page) and names the roles it allows; every form posts the session's CSRF token, which
:func:`assistant.admin.deps.authenticate` checks. The login form itself is protected by a
double-submit cookie, so no one can log a browser into someone else's account.

Just over 400 lines: one route per page, each a few lines over the review modules.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.admin.api import FlagId, QueryModel, QueueFilter, Reader, Reviewer, midnight, queue
from assistant.admin.auth import create_session, end_session, verify_password
from assistant.admin.charts import rate_chart_svg, volume_chart_svg
from assistant.admin.deps import SESSION_COOKIE, Principal, authenticate
from assistant.admin.pages import render
from assistant.admin.runs import router as runs_router
from assistant.api.deps import assistant_of
from assistant.review.actions import ACTIONS, ReviewConflict, ReviewError, review, review_cluster
from assistant.review.curated import (
    CuratedError,
    curated_dict,
    delete_curated,
    edit_curated,
    export_csv,
    get_curated,
    import_csv,
    list_curated,
)
from assistant.review.dashboard import GROUPINGS, Grouping, dashboard_csv, dashboard_rows
from assistant.review.gaps import gaps_csv, knowledge_gaps
from assistant.review.item import review_item
from assistant.store.models import CHANNELS, FLAG_REASONS, FLAG_STATUSES
from assistant.store.repository import list_documents

HERE = Path(__file__).parent
LOGIN_CSRF_COOKIE = "assistant_login_csrf"
HOME = "/admin/review"
DOCUMENT_CHOICES = 1000

router = APIRouter(prefix="/admin", include_in_schema=False)
static = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Where to go after logging in: an admin page of this site only (no open redirect)."""
    if target.startswith("/admin") and not target.startswith("/admin/login") and "\\" not in target:
        return target
    return HOME


def _set_cookie(request: Request, response: Response, name: str, value: str, **options: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=assistant_of(request).settings.admin_cookie_secure,
        **options,
    )


# --- login -------------------------------------------------------------------------------------


def _login_page(request: Request, next_page: str, error: str | None = None, status_code: int = 200):
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", None, status_code, next=_safe_next(next_page), login_csrf=token, error=error
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, samesite="strict", path="/admin/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = HOME) -> Response:
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Check the credentials (argon2, same cost for unknown users), then start a session."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, next, "The login form expired. Please try again.", 403)
    settings = assistant_of(request).settings
    with assistant_of(request).store.session() as session:
        user = verify_password(session, username.strip(), password)
        cookie = create_session(session, user, settings.admin_session_hours)[0] if user else None
    if cookie is None:
        return _login_page(request, next, "Wrong username or password.", 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    max_age = int(settings.admin_session_hours * 3600)
    _set_cookie(request, response, SESSION_COOKIE, cookie, samesite="lax", path="/admin", max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    return response


@router.post("/logout")
def logout(request: Request, _: Annotated[Principal, Depends(authenticate)]) -> Response:
    with assistant_of(request).store.session() as session:
        end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.get("")
@router.get("/")
def home(_: Reader) -> Response:
    return RedirectResponse(HOME, status_code=303)


# --- the review queue --------------------------------------------------------------------------


@router.get("/review")
def queue_page(
    request: Request, principal: Reader, queue_filter: Annotated[QueueFilter, Query()]
) -> Response:
    items = queue(request, queue_filter)
    clusters: dict[str, int] = {}
    for item in items:
        clusters[item["cluster"]] = clusters.get(item["cluster"], 0) + 1
    return render(
        request,
        "queue.html",
        principal,
        items=items,
        clusters=clusters,
        filter=queue_filter,
        reasons=FLAG_REASONS,
        statuses=FLAG_STATUSES,
        channels=CHANNELS,
    )


def _item_page(
    request: Request, principal: Principal, flag_id: int, *, error: str | None = None, status_code: int = 200
) -> Response:
    with assistant_of(request).store.session() as session:
        try:
            item = review_item(session, flag_id)
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc
        documents = [(row.doc_id, row.title) for row in list_documents(session)[:DOCUMENT_CHOICES]]
    return render(request, "item.html", principal, status_code, item=item, documents=documents, error=error)


@router.get("/review/{flag_id}")
def item_page(request: Request, flag_id: FlagId, principal: Reader) -> Response:
    return _item_page(request, principal, flag_id)


@router.post("/review/{flag_id}/{action}")
async def item_action(request: Request, flag_id: FlagId, action: str, principal: Reviewer) -> Response:
    """Apply a review action from the conversation view's forms; a conflict re-shows the item."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    form = await request.form()
    version = str(form.get("version", ""))
    if not version.isdigit():
        raise HTTPException(400, "the form lost the flag version: reload the page")
    picked = [str(value) for value in form.getlist("doc_ids")]
    typed = str(form.get("more_doc_ids", "")).replace(",", " ").split()
    options = {
        "expected_version": int(version),
        "actor": principal.username,
        "answer": str(form.get("answer", "")) or None,
        "doc_ids": picked + typed,
        "note": str(form.get("note", "")) or None,
        "embedder": assistant_of(request).embedder,
    }
    apply = review_cluster if form.get("whole_cluster") == "yes" else review
    try:
        with assistant_of(request).store.session() as session:
            apply(session, flag_id, action, **options)  # type: ignore[arg-type]  # checked above
    except ReviewConflict as exc:
        return _item_page(request, principal, flag_id, error=str(exc), status_code=409)
    except ReviewError as exc:
        return _item_page(request, principal, flag_id, error=str(exc), status_code=400)
    return RedirectResponse(f"/admin/review/{flag_id}", status_code=303)


# --- curated answers ---------------------------------------------------------------------------


def _curated_page(
    request: Request,
    principal: Principal,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with assistant_of(request).store.session() as session:
        rows = [curated_dict(row) for row in list_curated(session)]
    return render(request, "curated.html", principal, status_code, rows=rows, message=message, error=error)


@router.get("/curated")
def curated_page(request: Request, principal: Reader) -> Response:
    return _curated_page(request, principal)


@router.get("/curated.csv")
def curated_export(request: Request, _: Reader) -> Response:
    with assistant_of(request).store.session() as session:
        text = export_csv(session)
    return _csv(text, "curated-answers.csv")


@router.post("/curated/import")
async def curated_import(request: Request, principal: Reviewer) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _curated_page(request, principal, error="choose a CSV file to import", status_code=400)
    raw = await upload.read()  # bounded by the app's request size limit (ASSISTANT_MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8-sig")
        with assistant_of(request).store.session() as session:
            counts = import_csv(session, text, actor=principal.username)
    except UnicodeDecodeError:
        return _curated_page(request, principal, error="the CSV file is not UTF-8 text", status_code=400)
    except CuratedError as exc:
        return _curated_page(request, principal, error=f"nothing imported: {exc}", status_code=400)
    message = f"Imported: {counts['added']} added, {counts['updated']} updated."
    return _curated_page(request, principal, message=message)


def _curated_edit_page(
    request: Request, principal: Principal, curated_id: str, error: str | None = None, status_code: int = 200
) -> Response:
    with assistant_of(request).store.session() as session:
        try:
            row = curated_dict(get_curated(session, curated_id))
        except CuratedError as exc:
            raise HTTPException(404, str(exc)) from exc
    return render(request, "curated_edit.html", principal, status_code, row=row, error=error)


@router.get("/curated/{curated_id}")
def curated_edit_page(request: Request, curated_id: str, principal: Reader) -> Response:
    return _curated_edit_page(request, principal, curated_id)


@router.post("/curated/{curated_id}")
def curated_save(
    request: Request,
    curated_id: str,
    principal: Reviewer,
    question: Annotated[str, Form(max_length=4000)],
    answer: Annotated[str, Form(max_length=8000)],
    doc_ids: Annotated[str, Form(max_length=4000)] = "",
    enabled: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        with assistant_of(request).store.session() as session:
            edit_curated(
                session,
                curated_id,
                question=question,
                answer=answer,
                doc_ids=doc_ids.replace(",", " ").split(),
                enabled=enabled == "yes",
            )
    except CuratedError as exc:
        return _curated_edit_page(request, principal, curated_id, str(exc), 400)
    return RedirectResponse("/admin/curated", status_code=303)


@router.post("/curated/{curated_id}/{change}")
def curated_change(request: Request, curated_id: str, change: str, principal: Reviewer) -> Response:
    """``enable``, ``disable`` or ``delete`` one curated answer."""
    if change not in ("enable", "disable", "delete"):
        raise HTTPException(404, f"no change {change!r}")
    try:
        with assistant_of(request).store.session() as session:
            if change == "delete":
                delete_curated(session, curated_id)
            else:
                edit_curated(session, curated_id, enabled=change == "enable")
    except CuratedError as exc:
        raise HTTPException(404, str(exc)) from exc
    return RedirectResponse("/admin/curated", status_code=303)


# --- knowledge gaps ----------------------------------------------------------------------------


@router.get("/gaps")
def gaps_page(request: Request, principal: Reader) -> Response:
    with assistant_of(request).store.session() as session:
        gaps = knowledge_gaps(session)
    return render(request, "gaps.html", principal, gaps=gaps)


@router.get("/gaps.csv")
def gaps_export(request: Request, _: Reader) -> Response:
    with assistant_of(request).store.session() as session:
        text = gaps_csv(session)
    return _csv(text, "knowledge-gaps.csv")


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- dashboard ---------------------------------------------------------------------------------


class DashboardQuery(QueryModel):
    """The dashboard's grouping and window."""

    by: Grouping = "day"
    since: date | None = Field(None, description="First day (UTC); default 30 days before `until`.")
    until: date | None = Field(None, description="Last day (UTC, included); default today.")

    def rows(self, session: Session) -> list[dict[str, Any]]:
        until = midnight(self.until + timedelta(days=1)) if self.until else None
        try:
            return dashboard_rows(session, by=self.by, since=midnight(self.since), until=until)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc


@router.get("/dashboard")
def dashboard_page(
    request: Request, principal: Reader, query: Annotated[DashboardQuery, Query()]
) -> Response:
    with assistant_of(request).store.session() as session:
        rows = query.rows(session)
    by = query.by
    return render(
        request,
        "dashboard.html",
        principal,
        rows=rows,
        query=query,
        by=by,
        groupings=GROUPINGS,
        rate_chart=rate_chart_svg(rows, x_key=by),
        volume_chart=volume_chart_svg(rows, x_key=by),
    )


@router.get("/dashboard.csv")
def dashboard_export(request: Request, _: Reader, query: Annotated[DashboardQuery, Query()]) -> Response:
    with assistant_of(request).store.session() as session:
        rows = query.rows(session)
    return _csv(dashboard_csv(rows, by=query.by), f"dashboard-by-{query.by}.csv")


# --- wiring ------------------------------------------------------------------------------------


@static.get("/static/admin.css")
def stylesheet() -> FileResponse:
    return FileResponse(HERE / "admin.css", media_type="text/css", headers={"Cache-Control": "max-age=300"})


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/admin") and not path.startswith("/admin/api")


def install(app: FastAPI) -> None:
    """Mount the UI on ``app``; errors on its pages become pages (401 → the login page)."""
    app.include_router(router)
    app.include_router(runs_router)
    app.include_router(static)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/admin/login?next={quote(here, safe='')}", status_code=303)
        principal = getattr(request.state, "admin_principal", None)
        return render(request, "error.html", principal, exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        where = ".".join(str(part) for part in first["loc"][1:]) or "request"
        principal = getattr(request.state, "admin_principal", None)
        return render(request, "error.html", principal, 400, detail=f"{where}: {first['msg']}")
