"""Request classes: who sends a sampled request (anonymous, a logged-in Bookinfo user, a
client with or without a routing header) and to which path."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from .answers import envoy_answer

REDIRECTS = (301, 302, 303, 307, 308)


class LoginError(Exception):
    """The Bookinfo login did not give a session; ``status`` is the login answer's status
    (None when there was no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RequestClass:
    """A kind of request: fixed ``headers`` sent with each one, and for Bookinfo the user
    whose session (from the real login flow) the request carries."""

    name: str
    path: str = "/productpage"
    headers: tuple[tuple[str, str], ...] = ()
    login: str | None = None

    @classmethod
    def anonymous(cls, path: str = "/productpage") -> RequestClass:
        """No session, no extra headers."""
        return cls("anonymous", path)

    @classmethod
    def logged_in(cls, user: str, path: str = "/productpage") -> RequestClass:
        """Requests with the session of ``user`` (``POST /login`` once per client session)."""
        if not user:
            raise ValueError("a logged-in class needs a user name")
        return cls(f"user:{user}", path, login=user)

    @classmethod
    def with_header(cls, name: str, value: str, path: str = "/") -> RequestClass:
        """Requests carrying ``name: value`` (Part 2 header routing)."""
        return cls(f"{name.lower()}={value}", path, ((name, value),))

    @classmethod
    def without_header(cls, path: str = "/") -> RequestClass:
        """Plain requests to a Part 2 app."""
        return cls("plain", path)


def log_in(session: requests.Session, base_url: str, user: str, *,
           referer_path: str = "/productpage", timeout_s: float = 5.0,
           request_id: str | None = None) -> requests.Response:
    """Bookinfo's login: ``POST /login`` with the form fields ``username``/``passwd`` and a
    ``Referer`` (without one the redirect points at the literal path ``None``). The redirect is
    not followed; the ``session`` cookie stays in ``session``'s jar. Raises `LoginError` when
    the answer is not a redirect that sets a cookie; connection errors propagate."""
    base = base_url.rstrip("/")
    headers = {"Referer": f"{base}{referer_path}"}
    if request_id:
        headers["x-request-id"] = request_id
    response = session.post(f"{base}/login", data={"username": user, "passwd": "meshgrade"},
                            headers=headers, allow_redirects=False, timeout=timeout_s)
    response.close()
    if response.status_code not in REDIRECTS:
        envoy = envoy_answer(response.status_code, response.headers, response.text)
        raise LoginError(f"login as {user} answered {response.status_code}"
                         + (f" ({envoy})" if envoy else "") + ", not a redirect",
                         response.status_code)
    if not response.headers.get("set-cookie") or not response.cookies:
        raise LoginError(f"login as {user} set no session cookie", response.status_code)
    return response
