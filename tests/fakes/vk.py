"""A loopback fake of VK's API (`/method/<name>`) and of its upload server, written from VK's documentation.

- `wall.post` (dev.vk.com/method/wall.post): `owner_id` negative for a community, `from_group=1`, `message`
  or `attachments` (media as `photo{owner_id}_{id}[_{access_key}]`, at most one link); `guid` makes a repeat
  idempotent: "a unique identifier meant to prevent sending the same post again; it holds for one hour".
  A repeated guid within the hour answers with the first post's id and publishes nothing.
- The photo path that works with a community token (dev.vk.com/api/upload, photo in a message):
  `photos.getMessagesUploadServer` gives an upload URL; the file goes there as multipart field `photo`
  (JPG, PNG or GIF, at most 50 MB); `photos.saveMessagesPhoto(photo, server, hash)` saves it.
- `wall.getById` (dev.vk.com/method/wall.getById; VK's schema, wall_getById_response): `posts` is a list of
  "{owner_id}_{post_id}"; version 5.199 answers `{"items": [post, ...]}`, each post with `views`, `likes`, `reposts` and
  `comments` as objects with a `count`. The schema lists it for user and service tokens: with `service_token` set,
  the community token gets error 27 (method unavailable with group auth), as VK answers such calls.
- Errors come as HTTP 200 with `{"error": {"error_code", "error_msg", "request_params"}}`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.base import Reply, Request, ScriptedFaults

GUID_WINDOW = 3600.0  # seconds a guid keeps a repeated wall.post from publishing again
MAX_UPLOAD = 50 * 1024 * 1024
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


@dataclass
class WallPost:
    """One wall post as the fake accepted it."""

    post_id: int
    owner_id: int
    from_group: str
    message: str
    attachments: str | None
    params: dict[str, Any]
    edits: int = 0
    comments: list[str] = field(default_factory=list)
    views: int = 0  # what wall.getById reports; a test sets them (people read the post)
    likes: int = 0
    reposts: int = 0


@dataclass
class Photo:
    """A photo saved with photos.saveMessagesPhoto."""

    id: int
    owner_id: int
    access_key: str
    data: bytes

    @property
    def attachment(self) -> str:
        return f"photo{self.owner_id}_{self.id}_{self.access_key}"


class FakeVk(ScriptedFaults):
    """Answers VK API calls like VK: `{"response": ...}`, or `{"error": {...}}` with HTTP 200.

    `posts` holds what was published, `photos` what was saved, `uploads` the files that reached the upload
    server. `refuse_photos(code)` makes photos.getMessagesUploadServer answer that error (as VK does for a
    token without the photos right). `host_file` serves a file at a URL, standing in for the website that
    holds an event's cover. `clock` (seconds) times the guid window.
    """

    def __init__(
        self, token: str = "vk-secret-token", version: str = "5.199", photo_owner: int = -89190013,
        clock: Callable[[], float] = time.monotonic, service_token: str | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.service_token = service_token
        self.reads: list[list[str]] = []  # the posts each wall.getById asked for
        self.version = version
        self.photo_owner = photo_owner
        self.clock = clock
        self.posts: list[WallPost] = []
        self.photos: list[Photo] = []
        self.uploads: list[bytes] = []
        self.problems: list[str] = []  # why a request was refused, for a test's assertion message
        self.files: dict[str, tuple[bytes, str]] = {}
        self.photo_refusal: tuple[int, str] | None = None
        self.edit_refusal: tuple[int, str] | None = None
        self._guids: dict[str, tuple[float, int]] = {}  # guid -> (first seen, post_id)
        self._pending: dict[str, bytes] = {}  # an upload's hash -> the file, until it is saved
        self._next_id = 100

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/files/"):
            return self._file(request.path.removeprefix("/files/"))
        if request.path == "/upload/photo":
            return self._upload(request)
        if request.method != "POST" or not request.path.startswith("/method/"):
            return Reply(status=404, body={"error": "not found"})
        method = request.path.removeprefix("/method/")
        params = request.params
        if method == "wall.getById" and self.service_token is not None and params.get("access_token") == self.token:
            return self._refuse(27, "Group authorization failed: method is unavailable with group auth.")
        if params.get("access_token") not in (self.token, self.service_token):
            return self._refuse(5, "User authorization failed: invalid access_token")
        if params.get("v") != self.version:
            return self._refuse(8, f"Invalid request: version {params.get('v')!r}, expected {self.version}")
        if method == "wall.post":
            return self._wall_post(params)
        if method == "photos.getMessagesUploadServer":
            if self.photo_refusal is not None:
                return self._refuse(*self.photo_refusal)
            url = f"{self.base_url}/upload/photo?act=do_add&mid=0&aid=-3&gid=0&srv=1"
            return Reply(body={"response": {"upload_url": url, "album_id": -3, "group_id": 0}})
        if method == "photos.saveMessagesPhoto":
            return self._save_photo(params)
        if method == "wall.edit":
            return self._wall_edit(params)
        if method == "wall.getById":
            return self._get_by_id(params)
        if method == "wall.createComment":
            return self._comment(params)
        return self._refuse(3, "Unknown method passed")

    def _find(self, params: dict[str, Any]) -> WallPost | None:
        owner, number = int(params.get("owner_id") or 0), int(params.get("post_id") or 0)
        return next((p for p in self.posts if p.owner_id == owner and p.post_id == number), None)

    def _wall_edit(self, params: dict[str, Any]) -> Reply:
        """dev.vk.com/method/wall.edit: owner_id, post_id, message; answers {"post_id": …}. `edit_refusal` stands
        for a token that may not edit (VK answers 15, access denied)."""
        if self.edit_refusal is not None:
            return self._refuse(*self.edit_refusal)
        with self._lock:
            post = self._find(params)
            if post is None:
                return self._refuse(100, "One of the parameters specified was missing or invalid: post_id")
            post.message = str(params.get("message", ""))
            post.edits += 1
        return Reply(body={"response": {"post_id": post.post_id}})

    def _get_by_id(self, params: dict[str, Any]) -> Reply:
        wanted = [item.strip() for item in str(params.get("posts") or "").split(",") if item.strip()]
        if not wanted or any(not re.fullmatch(r"-?\d+_\d+", item) for item in wanted):
            return self._refuse(100, "One of the parameters specified was missing or invalid: posts")
        with self._lock:
            self.reads.append(wanted)
            items = []
            for item in wanted:
                owner, _, number = item.partition("_")
                post = self._find({"owner_id": owner, "post_id": number})
                if post is None:
                    continue  # VK leaves out a post it does not have (deleted, or never there)
                items.append({
                    "id": post.post_id, "owner_id": post.owner_id, "from_id": post.owner_id, "date": 1732700000,
                    "post_type": "post", "text": post.message, "comments": {"count": len(post.comments)},
                    "likes": {"count": post.likes, "user_likes": 0, "can_like": 1},
                    "reposts": {"count": post.reposts, "user_reposted": 0}, "views": {"count": post.views},
                })
        return Reply(body={"response": {"items": items}})

    def _comment(self, params: dict[str, Any]) -> Reply:
        """dev.vk.com/method/wall.createComment: owner_id, post_id, message, from_group; answers {"comment_id": …}."""
        with self._lock:
            post = self._find(params)
            if post is None or not params.get("message"):
                return self._refuse(100, "One of the parameters specified was missing or invalid")
            self._next_id += 1
            post.comments.append(str(params["message"]))
            return Reply(body={"response": {"comment_id": self._next_id}})

    def _wall_post(self, params: dict[str, Any]) -> Reply:
        owner_id = int(params.get("owner_id") or 0)
        if owner_id >= 0:
            return self._refuse(100, "One of the parameters specified was missing or invalid: owner_id")
        if params.get("from_group") != "1":
            return self._refuse(100, "One of the parameters specified was missing or invalid: from_group")
        attachments = params.get("attachments") or None
        if not params.get("message") and not attachments:
            return self._refuse(100, "One of the parameters specified was missing or invalid: message is empty")
        if attachments and (trouble := self._check_attachments(str(attachments))):
            return self._refuse(100, f"One of the parameters specified was missing or invalid: {trouble}")
        guid = params.get("guid")
        with self._lock:
            now = self.clock()
            if guid and (seen := self._guids.get(guid)) and now - seen[0] < GUID_WINDOW:
                return Reply(body={"response": {"post_id": seen[1]}})  # the same post: nothing published
            self._next_id += 1
            post = WallPost(
                post_id=self._next_id,
                owner_id=owner_id,
                from_group=params["from_group"],
                message=params.get("message", ""),
                attachments=attachments,
                params=dict(params),
            )
            self.posts.append(post)
            if guid:
                self._guids[guid] = (now, post.post_id)
        return Reply(body={"response": {"post_id": post.post_id}})

    def _check_attachments(self, attachments: str) -> str | None:
        items = attachments.split(",")
        links = [item for item in items if item.startswith(("http://", "https://"))]
        if len(links) > 1:
            return "attachments: more than one link"
        saved = {photo.attachment for photo in self.photos} | {f"photo{p.owner_id}_{p.id}" for p in self.photos}
        for item in items:
            if item not in links and item not in saved:
                return f"attachments: {item!r} is not a link or a saved photo"
        return None

    def _upload(self, request: Request) -> Reply:
        photo = request.params.get("photo")
        if request.method != "POST" or "multipart/form-data" not in request.headers.get("content-type", ""):
            return Reply(body={"error": "the file must be sent as multipart/form-data"})
        if not isinstance(photo, bytes) or not photo.startswith(_IMAGE_MAGIC) or len(photo) > MAX_UPLOAD:
            # VK's upload server answers an unusable file with an empty photo list.
            return Reply(body={"server": 1, "photo": "[]", "hash": hashlib.md5(b"").hexdigest()})
        digest = hashlib.md5(photo).hexdigest()
        with self._lock:
            self.uploads.append(photo)
            self._pending[digest] = photo
        return Reply(body={"server": 1, "photo": json.dumps([{"photo": digest[:10], "sizes": []}]), "hash": digest})

    def _save_photo(self, params: dict[str, Any]) -> Reply:
        digest = str(params.get("hash") or "")
        try:
            described = json.loads(str(params.get("photo") or ""))
        except ValueError:
            described = None
        with self._lock:
            if not described or digest not in self._pending or str(params.get("server")) != "1":
                return self._refuse(121, "Invalid hash")
            self._next_id += 1
            data = self._pending.pop(digest)
            photo = Photo(id=self._next_id, owner_id=self.photo_owner, access_key=digest[:16], data=data)
            self.photos.append(photo)
        return Reply(body={"response": [{"id": photo.id, "owner_id": photo.owner_id, "access_key": photo.access_key,
                                         "album_id": -3, "sizes": []}]})

    def _file(self, name: str) -> Reply:
        if name not in self.files:
            return Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})
        data, content_type = self.files[name]
        return Reply(body=data, headers={"Content-Type": content_type})

    def _refuse(self, code: int, message: str) -> Reply:
        with self._lock:
            self.problems.append(f"{code}: {message}")
        return vk_error(code, message, token=self.token)

    # -- test helpers -------------------------------------------------------------------------------------------

    def host_file(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve `data` at the returned URL (a website's cover image)."""
        self.files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    def refuse_photos(self, code: int = 15, message: str = "Access denied: no access to call this method") -> None:
        self.photo_refusal = (code, message)

    # More scripted faults (ScriptedFaults has the network ones: slow, drop, record_then_drop, reset, ...).

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

    def access_denied(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(15, "Access denied: no access to call this method", times, at)

    def group_auth(self, times: int = 1, at: int | None = None) -> None:
        self.fail_with(27, "Group authorization failed: method is unavailable with group auth.", times, at)

    def server_error(self, status: int = 500, times: int = 1, at: int | None = None) -> None:
        self._script(Reply(status=status, body=b"<html>Internal Server Error</html>",
                           headers={"Content-Type": "text/html"}), times, at)

    def http_429(self, retry_after: str | None = None, times: int = 1, at: int | None = None) -> None:
        headers = {"Content-Type": "text/html", **({"Retry-After": retry_after} if retry_after else {})}
        self._script(Reply(status=429, body=b"<html>Too Many Requests</html>", headers=headers), times, at)


def vk_error(code: int, message: str, token: str | None = None, **extra: Any) -> Reply:
    """VK's error answer. It echoes the request's parameters; this fake includes the access token among
    them (worse than VK), so tests show that no error text is built from VK's answer wholesale."""
    request_params = [{"key": "method", "value": "wall.post"}, {"key": "oauth", "value": "1"}]
    if token is not None:
        request_params.append({"key": "access_token", "value": token})
    return Reply(body={"error": {"error_code": code, "error_msg": message, "request_params": request_params, **extra}})
