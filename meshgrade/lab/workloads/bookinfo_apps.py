"""The four Bookinfo services as seen from outside: productpage, reviews (v1/v2/v3), ratings
and details, each answering the same paths and JSON shapes as the sample."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any

from .aio import MeshClient
from .podserver import App, PodSpec, Request, Response
from .productpage_html import render_index, render_not_found, render_product_page

SERVICES = ("productpage", "reviews", "ratings", "details")
VERSIONS = ("v1", "v2", "v3")
TRACE_HEADERS = ("x-request-id", "traceparent", "tracestate", "user-agent", "b3",
                 "x-ot-span-context", "x-cloud-trace-context", "grpc-trace-bin")
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS = {"Reviewer1": 5, "Reviewer2": 4}
PRODUCT = {
    "id": 0,
    "title": "The Comedy of Errors",
    "descriptionHtml": (
        "<b>The Comedy of Errors</b> is an early farce by William Shakespeare: two pairs of "
        "identical twins, separated at birth, end up in the same town on the same day, and "
        "nobody can tell who is who."),
}
REVIEW_TEXTS = {
    "Reviewer1": "A fast, silly and very funny evening; the mistaken identities never get old.",
    "Reviewer2": "Great fun on stage, though thinner in ideas than Shakespeare's later plays.",
}
_ID = re.compile(r"\d{1,9}")
_COOKIE = "session"
_FLAGS = "HttpOnly; Path=/"


def is_bookinfo(spec: PodSpec) -> bool:
    """True for pods the Bookinfo emulation serves (app and version of the sample)."""
    return spec.app in SERVICES and spec.version in VERSIONS


def make_app(spec: PodSpec, mesh: MeshClient, sessions: SessionCodec,
             page_style: str = "new") -> App:
    """The request handler for a Bookinfo pod."""
    if spec.app == "productpage":
        return ProductPage(spec, mesh, sessions, page_style)
    if spec.app == "reviews":
        return Reviews(spec, mesh)
    if spec.app == "ratings":
        return Ratings()
    return Details()


def trace_headers(request: Request) -> dict[str, str]:
    """The tracing and identity headers a Bookinfo service passes on to the services it calls."""
    return {name: value for name, value in request.headers.items()
            if name in TRACE_HEADERS or name.startswith("x-b3-")}


def _product_id(path: str, prefix: str) -> int | None:
    rest = path[len(prefix):] if path.startswith(prefix) else ""
    return int(rest) if _ID.fullmatch(rest) else None


def _json_or_none(response: Any) -> Any:
    if response is None or response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _health(name: str) -> Response:
    return Response.json({"status": f"{name} is healthy"})


class SessionCodec:
    """Signed session cookies (`<base64 json>.<hmac>`), valid on every productpage pod of a lab."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, user: str) -> str:
        payload = base64.urlsafe_b64encode(json.dumps({"user": user}).encode()).decode()
        return f"{payload}.{self._sign(payload)}"

    def decode(self, token: str) -> str | None:
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            user = json.loads(base64.urlsafe_b64decode(payload.encode()))["user"]
        except (ValueError, KeyError, TypeError):
            return None
        return user if isinstance(user, str) and user else None

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class ProductPage:
    """productpage: the HTML page, login/logout, the JSON API and static files."""

    def __init__(self, spec: PodSpec, mesh: MeshClient, sessions: SessionCodec,
                 style: str = "new") -> None:
        self.spec, self.mesh, self.sessions, self.style = spec, mesh, sessions, style

    async def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/login":
            return self._login(request) if method == "POST" else self._not_allowed()
        if method not in ("GET", "HEAD"):
            return self._not_allowed()
        if path in ("/", "/index.html"):
            return Response.html(render_index())
        if path == "/productpage":
            return await self._page(request)
        if path == "/logout":
            return self._redirect(request, "")
        if path == "/health":
            return _health("Product page")
        if path.startswith("/static/"):
            return self._static(path)
        if path == "/api/v1/products":
            return Response.json([{"id": PRODUCT["id"], "title": PRODUCT["title"],
                                   "descriptionHtml": PRODUCT["descriptionHtml"]}])
        if path.startswith("/api/v1/products/"):
            return await self._api(request, path[len("/api/v1/products/"):])
        return Response.html(render_not_found(path), 404)

    def user(self, request: Request) -> str | None:
        """The user of the request's session cookie, if any."""
        try:
            morsel = SimpleCookie(request.header("cookie")).get(_COOKIE)
        except CookieError:
            return None
        return self.sessions.decode(morsel.value) if morsel is not None else None

    def _headers(self, request: Request) -> dict[str, str]:
        headers = trace_headers(request)
        for name in ("cookie", "authorization"):
            if name in request.headers:
                headers[name] = request.headers[name]
        user = self.user(request)  # never the client's own end-user header
        if user:
            headers["end-user"] = user
        return headers

    async def _page(self, request: Request) -> Response:
        headers = self._headers(request)
        details = _json_or_none(await self.mesh.get("details", "/details/0", headers))
        reviews = await self._reviews(headers)
        if reviews is not None:
            reviews = {**reviews, "reviews": [_clean_review(r) for r in reviews.get("reviews", [])
                                              if isinstance(r, dict)]}
        page = render_product_page(self.style, PRODUCT, details, reviews, self.user(request))
        return Response.html(page)

    async def _reviews(self, headers: dict[str, str], product_id: int = 0
                       ) -> dict[str, Any] | None:
        for _ in range(2):  # one retry, then the error text
            data = _json_or_none(await self.mesh.get("reviews", f"/reviews/{product_id}",
                                                     headers))
            if isinstance(data, dict):
                return data
        return None

    def _login(self, request: Request) -> Response:
        user = request.form().get("username", "").strip()
        token = self.sessions.encode(user) if user else ""
        return self._redirect(request, token)

    def _redirect(self, request: Request, token: str) -> Response:
        response = Response.html("<p>Redirecting...</p>", 302)
        response.headers.append(("Location", request.header("referer") or "None"))
        cookie = f"{_COOKIE}={token}; {_FLAGS}"
        if not token:  # logout, or a login without a user name
            cookie = f"{_COOKIE}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; {_FLAGS}"
        response.headers.append(("Set-Cookie", cookie))
        return response

    async def _api(self, request: Request, rest: str) -> Response:
        product, _, what = rest.partition("/")
        if not _ID.fullmatch(product) or what not in ("", "reviews", "ratings"):
            return Response.json({"error": "not found"}, 404)
        headers = self._headers(request)
        if what == "reviews":
            data = await self._reviews(headers, int(product))
            return Response.json(data if data is not None else {"error": REVIEWS_UNAVAILABLE},
                                 200 if data is not None else 503)
        service = "ratings" if what == "ratings" else "details"
        data = _json_or_none(await self.mesh.get(service, f"/{service}/{product}", headers))
        if data is None:
            text = f"Sorry, product {service} are currently unavailable for this book."
            return Response.json({"error": text}, 503)
        return Response.json(data)

    @staticmethod
    def _static(path: str) -> Response:
        if path.endswith(".css"):
            return Response(200, b"body { font-family: sans-serif; }\n", "text/css")
        if path.endswith(".js"):
            return Response(200, b"/* bookinfo */\n", "application/javascript")
        return Response.html(render_not_found(path), 404)

    @staticmethod
    def _not_allowed() -> Response:
        return Response.html("<h1>Method Not Allowed</h1>", 405)


def _clean_review(review: dict[str, Any]) -> dict[str, Any]:
    rating = review.get("rating")
    if isinstance(rating, dict) and "stars" in rating:
        try:
            stars = max(0, min(5, int(rating["stars"])))
        except (TypeError, ValueError):
            stars = 0
        rating = {"stars": stars, "color": str(rating.get("color", "black"))}
    return {**review, "rating": rating if isinstance(rating, dict) else None}


class Reviews:
    """reviews v1 (no ratings), v2 (black stars) and v3 (red stars)."""

    def __init__(self, spec: PodSpec, mesh: MeshClient) -> None:
        self.spec, self.mesh = spec, mesh
        self.color = {"v2": "black", "v3": "red"}.get(spec.version or "")

    async def __call__(self, request: Request) -> Response:
        if request.path == "/health":
            return _health("Reviews")
        product = _product_id(request.path, "/reviews/")
        if request.method not in ("GET", "HEAD") or product is None:
            return Response.json({"error": "not found"}, 404)
        reviews: list[dict[str, Any]] = [
            {"reviewer": name, "text": text} for name, text in REVIEW_TEXTS.items()]
        if self.color is not None:
            headers = trace_headers(request)
            if request.header("end-user"):
                headers["end-user"] = request.header("end-user")
            data = _json_or_none(await self.mesh.get("ratings", f"/ratings/{product}", headers))
            ratings = data.get("ratings") if isinstance(data, dict) else None
            for review in reviews:
                stars = ratings.get(review["reviewer"]) if isinstance(ratings, dict) else None
                if ratings is None:
                    review["rating"] = {"error": RATINGS_UNAVAILABLE}
                elif stars is not None:
                    review["rating"] = {"stars": stars, "color": self.color}
        return Response.json({"id": str(product), "podname": self.spec.name,
                              "clustername": "null", "reviews": reviews})


class Ratings:
    """ratings: two fixed ratings per product."""

    def __call__(self, request: Request) -> Response:
        if request.path == "/health":
            return _health("Ratings")
        product = _product_id(request.path, "/ratings/")
        if request.method not in ("GET", "HEAD") or product is None:
            return Response.json({"error": "not found"}, 404)
        return Response.json({"id": product, "ratings": dict(RATINGS)})


class Details:
    """details: the book's details."""

    def __call__(self, request: Request) -> Response:
        if request.path == "/health":
            return _health("Details")
        product = _product_id(request.path, "/details/")
        if request.method not in ("GET", "HEAD") or product is None:
            return Response.json({"error": "not found"}, 404)
        return Response.json({
            "id": product, "author": "William Shakespeare", "year": 1595, "type": "paperback",
            "pages": 200, "publisher": "PublisherA", "language": "English",
            "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"})
