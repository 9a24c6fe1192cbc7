"""The app's routes plus test-only views (``@pytest.mark.urls("tests.api.observability_urls")``):
one that annotates the request as the GraphQL pipeline will, one that crashes, one that
logs from a thread, and one that CSRF protects."""

from __future__ import annotations

import logging
import threading
from contextvars import copy_context

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns
from observability.context import annotate, current

log = logging.getLogger("tests.observability")
CRASH_MESSAGE = "test view crashed on purpose"

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def annotated(request: HttpRequest) -> JsonResponse:
    annotate(operation_name="GetPosts", operation_type="query")
    annotate(user_id=42, outcome=request.GET.get("outcome", "OK"))
    log.info("inside the annotated view")
    return JsonResponse({"data": {"requestId": current().request_id}})


def crash(_request: HttpRequest) -> JsonResponse:
    log.info("about to crash")
    raise RuntimeError(CRASH_MESSAGE)


def threaded(_request: HttpRequest) -> JsonResponse:
    """Logs from the request thread and from a helper thread run in the request's context."""
    log.info("from the request thread")
    context = copy_context()
    helper = threading.Thread(target=context.run, args=(log.info, "from a helper thread"))
    helper.start()
    helper.join()
    return JsonResponse({"data": {"requestId": current().request_id}})


def protected(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"data": "a POST got through CSRF"})


urlpatterns = [
    *urlpatterns,
    path("test/annotated", annotated),
    path("test/crash", crash),
    path("test/threaded", threaded),
    path("test/protected", protected),
]
