"""The server: a FastAPI app with the JSON API for support staff and the Gradio pages mounted on it.

    POST /api/ask     {"question": "...", "history": [{"role": "user", "content": "..."}, ...]} -> the reply
    POST /api/deadlines {"event": "decision-letter", "date": "1 October 2026", "extra": {...}} -> {deadlines, text}
    POST /api/letters {} -> the model letters;  {"id" or "request", "values", "format"} -> one letter filled
    GET  /api/health  -> {"status": "ok", ...}
    /                 the parent's page;  /embed/  the compact page for other sites;  /gradio.js  the web component
    /docs             OpenAPI documentation (FastAPI)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..config import Config
from ..reply import Citation
from ..tools import clock
from ..tools import deadlines as dates
from . import web
from .feedback import FeedbackStore
from .limits import RateLimiter
from .validation import RequestRejected, validate_request

if TYPE_CHECKING:
    from ..core import Guide

log = logging.getLogger(__name__)

class Message(BaseModel):
    # Loose here and documented as the real shape: validate_request checks roles and text, so the API and the
    # page refuse the same things in the same words.
    role: Any = Field(json_schema_extra={"type": "string", "enum": ["user", "assistant"]})
    content: Any = Field(json_schema_extra={"type": "string"})


class AskRequest(BaseModel):
    # The limits (length, turns, surrogates) are validation.validate_request's, shared with the page.
    question: str = Field(description="The parent's message")
    history: list[Message] = Field(default_factory=list,
                                   description="Earlier turns, oldest first (Gradio messages / OpenAI chat format)")


class AskResponse(BaseModel):
    text: str = Field(description="Markdown with [n] markers that refer to citations")
    citations: list[Citation]  # the composer's own dataclass: one definition for Python, JSON and OpenAPI
    behaviour: Literal["answer", "decline", "signpost", "clarify"]
    reason: str
    retrieved: list[str]
    query: str
    timings: dict[str, float]
    letter: dict | None = None  # a model letter offered for the question (see POST /api/letters)


class LettersRequest(BaseModel):
    id: str | None = Field(default=None, description="A letter's id; leave out to list the letters")
    request: str | None = Field(default=None, max_length=2000,
                                description="Or what the parent wants to write, to pick the letter")
    values: dict[str, str] = Field(default_factory=dict, description="What the parent fills in, by field name")
    format: Literal["json", "text", "docx"] = "json"


class DeadlinesRequest(BaseModel):
    event: str = Field(description="One of: " + ", ".join(dates.EVENTS))
    date: str = Field(max_length=100, description="The event's date as written, e.g. '1 October 2026', '1/10/2026'")
    extra: dict[str, str] = Field(default_factory=dict, description="Further dates by name, e.g. "
                                  "{'mediation_certificate': '29 November 2026'}")
    kind: str = Field("", description="For a tribunal order or a phase transfer: which kind")


class DeadlinesResponse(BaseModel):
    deadlines: list[dict]
    text: str = Field(description="Markdown: the event understood, then each date with its legal basis (URL)")


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, in words to show a person")


class NoUploads:
    """Refuse file uploads before a byte of the body is read: the guide takes no files, and Gradio would otherwise
    keep an anonymous upload on disk and serve it back to anyone."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_upload(scope):
            await JSONResponse({"error": "The guide does not take files. Please type your question instead."},
                               status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_upload(scope) -> bool:
    path = scope.get("path", "").rstrip("/")
    if path.endswith("/upload") or path.endswith("/upload_progress"):
        return True
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return content_type.lower().startswith(b"multipart/")


_SECRET_SEGMENT = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{8,}(?=/|$)")


class AccessLogFilter(logging.Filter):
    """Uvicorn's access lines without query strings or id-like path segments: Gradio puts each page session's
    hash there (`?session_hash=`, `/heartbeat/<hash>`), and replaying one would show another parent's answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _SECRET_SEGMENT.sub(":id", args[2].split("?", 1)[0])
            record.args = (*args[:2], path, *args[3:])
        return True


STORE_DOWN = ("The guide cannot search its sources just now, so it cannot answer. Please try again in a few "
              "minutes. If this goes on, the people who run this guide need to check its search index.")


class StoreOutage:
    """Checks the store with a real query, and logs one line when an outage starts and one when it ends."""

    def __init__(self) -> None:
        self.down = False
        self._lock = threading.Lock()

    def probe(self, guide: Guide) -> str | None:
        """None when the store answers a query, else what went wrong (logged once per outage)."""
        try:
            guide.store.warm()
        except Exception as exc:  # noqa: BLE001 - whatever the store raises, the store is down
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            with self._lock:
                if not self.down:
                    log.error("the index store is not answering (%s); replying 503 until it does", problem)
                self.down = True
            return problem
        self.recovered()
        return None

    def recovered(self) -> None:
        with self._lock:
            if self.down:
                log.warning("the index store is answering again")
            self.down = False


def create_app(guide: Guide, config: Config | None = None, feedback: FeedbackStore | None = None) -> FastAPI:
    """The whole server for one guide: JSON API, CORS, limits, and the page at / and the embed at /embed/.

    `config` gives the server's settings (origins, limits, texts); by default the guide's own.
    """
    config = config or guide.config
    feedback = feedback or FeedbackStore.from_config(config)
    limiter = RateLimiter(config.rate_limit_per_minute)  # one budget per client across the page and the API
    app = FastAPI(title=config.app_title, summary="Cited answers about SEND in England. Information, not legal advice.")
    # Always installed, even with no origins: then Gradio adds no CORS rules of its own and cross-origin use is
    # refused unless GUIDE_CORS_ORIGINS names the site.
    app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["*"], allow_credentials=False)
    app.add_middleware(web.PageMetadata, config=config)  # lang="en-GB", the configured title and description
    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the whole input back (up to the body's size); say only where and what.
        first = exc.errors()[0] if exc.errors() else {}
        where = " > ".join(str(p) for p in first.get("loc", ()) if p != "body") or "the body"
        what = str(first.get("msg", "not valid"))[:120]
        return JSONResponse({"error": f"The request is not in the expected form: {where}: {what}. The API is "
                                      "described at /docs."}, status_code=422)

    app.add_middleware(NoUploads)
    errors = {code: {"model": ErrorOut} for code in (400, 413, 422, 429, 500, 503)}

    outage = StoreOutage()

    @app.get("/api/health", responses={503: {"model": ErrorOut}})
    def health():
        problem = outage.probe(guide)
        if problem:
            return JSONResponse({"status": "unavailable", "error": STORE_DOWN}, status_code=503)
        return {"status": "ok", "chunks": len(guide.store.chunks), "model": guide.embedder.name}

    @app.post("/api/ask", response_model=AskResponse, responses=errors)
    async def ask(body: AskRequest, request: Request):
        try:
            question, history = validate_request(body.question, [m.model_dump() for m in body.history], config)
        except RequestRejected as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        wait = limiter.check(request.client.host if request.client else "unknown")
        if wait:
            return JSONResponse({"error": limiter.message(wait)}, status_code=429,
                                headers={"Retry-After": str(wait)})
        try:
            reply = await run_in_threadpool(guide.ask, question, history)
        except Exception:
            # The store (a Chroma server, the index files) is the usual cause: one log line per outage and a reply
            # in plain words, not a traceback per request and an HTML 500.
            if await run_in_threadpool(outage.probe, guide):
                return JSONResponse({"error": STORE_DOWN}, status_code=503, headers={"Retry-After": "30"})
            log.exception("answering a question failed")
            return JSONResponse({"error": "Something went wrong while answering. Please try again."},
                                status_code=500)
        outage.recovered()
        return reply.to_dict()

    @app.post("/api/deadlines", response_model=DeadlinesResponse, responses={422: {"model": ErrorOut}})
    def deadlines(body: DeadlinesRequest):
        try:
            result = dates.from_text(body.event, body.date, clock.today(config.today), body.extra, body.kind)
        except dates.DateError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"deadlines": result.to_dicts(), "text": result.markdown()}
    @app.post("/api/letters", responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})
    def letters(body: LettersRequest):
        """List the model letters, or fill one. Nothing sent here is stored or logged."""
        from fastapi.responses import Response

        from ..tools.letters import to_docx

        book = guide.letters
        if not body.id and not body.request:
            return {"letters": book.catalogue()}
        letter = book.get(body.id) if body.id else book.pick(body.request or "")
        if letter is None:
            known = ", ".join(x.id for x in book)
            return JSONResponse({"error": f"No letter matches that; the letters are: {known}."}, status_code=404)
        try:
            filled = book.fill(letter, body.values)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        if body.format == "text":
            return Response(filled.text, media_type="text/plain; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{letter.id}.txt"'})
        if body.format == "docx":
            return Response(to_docx(letter.title, filled.text),
                            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                            headers={"Content-Disposition": f'attachment; filename="{letter.id}.docx"'})
        return filled.to_dict()

    @app.get("/gradio.js", include_in_schema=False)
    def gradio_js() -> FileResponse:
        # The <gradio-app> web component from the installed Gradio, so host pages load nothing from a CDN.
        return FileResponse(Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js",
                            media_type="text/javascript")

    @app.get("/embed", include_in_schema=False)
    def embed_slash(request: Request) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{request.scope.get('root_path', '')}/embed/{query}")

    theme, css = web.theme(), web.CSS
    for path, embed in (("/embed", True), ("/", False)):  # /embed first: the mount at / matches everything
        blocks = web.build_blocks(guide, config, feedback, limiter, embed=embed)
        gr.mount_gradio_app(app, blocks, path=path, footer_links=[], run_history=False, theme=theme, css=css,
                            show_error=False, ssr_mode=False, pwa=False, mcp_server=False)
    return app


def server_config(app: FastAPI, config: Config, host: str = "127.0.0.1", port: int = 7860) -> uvicorn.Config:
    """Uvicorn's settings for the guide: forwarded headers believed only from the proxies the operator names
    (GUIDE_FORWARDED_ALLOW_IPS; uvicorn's own FORWARDED_ALLOW_IPS still works), else from no one, so a client
    cannot rotate X-Forwarded-For past the rate limit."""
    allowed = ",".join(config.forwarded_allow_ips) or os.environ.get("FORWARDED_ALLOW_IPS", "")
    return uvicorn.Config(app, host=host, port=port, log_level=config.log_level.lower(),
                          proxy_headers=bool(allowed), forwarded_allow_ips=allowed or None)


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the guide once and serve the page, the embed and the API until interrupted."""
    from ..core import Guide

    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("guide").setLevel(config.log_level.upper())
    settings = server_config(create_app(Guide(config)), config, host, port)  # configures uvicorn's loggers
    logging.getLogger("uvicorn.access").addFilter(AccessLogFilter())
    uvicorn.Server(settings).run()
