"""A loopback fake of VK's API (`/method/<name>`): checks what vk-api sends, records wall posts, scripts errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request


@dataclass
class WallPost:
    """One wall post as the fake accepted it."""

    post_id: int
    owner_id: int
    from_group: str
    message: str
    attachments: str | None
    params: dict[str, Any]


class FakeVk(FakeServer):
    """Answers `wall.post` like VK: `{"response": {"post_id": N}}`, or `{"error": {...}}` with HTTP 200."""

    def __init__(self, token: str = "vk-secret-token", version: str = "5.199") -> None:
        super().__init__()
        self.token = token
        self.version = version
        self.posts: list[WallPost] = []
        self.problems: list[str] = []
        self._at: dict[int, Reply] = {}  # why a request was refused, for a test's assertion message
        self._next_id = 100

    def handle(self, request: Request) -> Reply:
        with self._lock:
            scripted = self._at.pop(len(self.requests), None)
        if scripted is not None:
            return scripted
        params = request.params
        if request.method != "POST" or not request.path.startswith("/method/"):
            return Reply(status=404, body={"error": "not found"})
        method = request.path.removeprefix("/method/")
        if params.get("access_token") != self.token:
            return self._refuse(5, "User authorization failed: invalid access_token")
        if params.get("v") != self.version:
            return self._refuse(8, f"Invalid request: version {params.get('v')!r}, expected {self.version}")
        if method != "wall.post":
            return self._refuse(3, "Unknown method passed")
        owner_id = int(params.get("owner_id") or 0)
        if owner_id >= 0:
            return self._refuse(100, "One of the parameters specified was missing or invalid: owner_id")
        if params.get("from_group") != "1":
            return self._refuse(100, "One of the parameters specified was missing or invalid: from_group")
        if not params.get("message"):
            return self._refuse(100, "One of the parameters specified was missing or invalid: message is empty")
        with self._lock:
            self._next_id += 1
            post = WallPost(
                post_id=self._next_id,
                owner_id=owner_id,
                from_group=params["from_group"],
                message=params["message"],
                attachments=params.get("attachments"),
                params=dict(params),
            )
            self.posts.append(post)
        return Reply(body={"response": {"post_id": post.post_id}})

    def _refuse(self, code: int, message: str) -> Reply:
        with self._lock:
            self.problems.append(f"{code}: {message}")
        return vk_error(code, message, token=self.token)

    # Scripted faults: each answers the next `times` requests instead of handling them, or with `at`,
    # only the at-th request (counting from 1, every request the fake saw).

    def fail_request(self, at: int, reply: Reply) -> None:
        with self._lock:
            self._at[at] = reply

    def _script(self, reply: Reply, times: int, at: int | None) -> None:
        if at is None:
            self.fail_next(reply, times)
        else:
            self.fail_request(at, reply)

    def fail_with(self, code: int, message: str, times: int = 1, at: int | None = None, **extra: Any) -> None:
        self._script(vk_error(code, message, token=self.token, **extra), times, at)

    def auth_failed(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(5, "User authorization failed: invalid access_token", times, at)

    def too_many_rps(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(6, "Too many requests per second", times, at)

    def flood_control(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(9, "Flood control", times, at)

    def captcha(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(
            14,
            "Captcha needed",
            times,
            at,
            captcha_sid="238208318412",
            captcha_img="https://api.vk.ru/captcha.php?sid=238208318412&s=1",
        )

    def group_auth(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(27, "Group authorization failed: method is unavailable with group auth.", times, at)

    def server_error(self, status: int = 500, times: int = 1, at: int | None = None) -> None:
        self._script(Reply(status=status, body=b"<html>Internal Server Error</html>"), times, at)

    def slow(self, delay: float, times: int = 1, at: int | None = None) -> None:
        self._script(Reply(body={"response": {"post_id": 1}}, delay=delay), times, at)

    def drop(self, times: int = 1, at: int | None = None) -> None:
        self._script(Reply(drop=True), times, at)


def vk_error(code: int, message: str, token: str | None = None, **extra: Any) -> Reply:
    """VK's error answer. It echoes the request's parameters; this fake includes the access token among
    them (worse than VK), so tests show that no error text is built from VK's answer wholesale."""
    request_params = [{"key": "method", "value": "wall.post"}, {"key": "oauth", "value": "1"}]
    if token is not None:
        request_params.append({"key": "access_token", "value": token})
    return Reply(body={"error": {"error_code": code, "error_msg": message, "request_params": request_params, **extra}})
