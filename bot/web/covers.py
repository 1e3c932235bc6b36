"""Uploaded cover images: checked by their content, re-encoded without metadata, kept under `[web] covers_dir`
by content hash and served by the app at /covers/<file>, where the platforms fetch them."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bot.config.settings import WebSettings
from bot.domain import SLUG
from bot.links import absolute
from bot.web.state import web_of

ROUTE = "/covers"
# Pillow's name of each accepted format: the file's extension and its media type.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
NAME = re.compile(rf"^(?P<event>{SLUG})-(?P<hash>[0-9a-f]{{16}})\.(?P<ext>jpg|png)$")
SLUG_PATTERN = re.compile(rf"^{SLUG}$")
# Telegram refuses photos whose width and height add up to more than 10,000 or whose sides differ more than 20
# times; more than 40 megapixels is no cover but a decompression bomb, refused before it is decoded.
MAX_SIDES = 10_000
MAX_RATIO = 20
MAX_PIXELS = 40_000_000


class CoverError(ValueError):
    """Why an upload is not taken, in words for the organiser."""


@dataclass(frozen=True, kw_only=True)
class StoredCover:
    name: str  # the file under covers_dir, also the last part of its URL
    url: str  # absolute, from [web] public_url
    width: int
    height: int


def size_of(size: int) -> str:
    """5 MB, 750 kB: as the limit is told to the organiser."""
    return f"{size / 1_000_000:g} MB" if size >= 1_000_000 else f"{size / 1000:g} kB"


def checked(data: bytes, max_bytes: int) -> tuple[bytes, str, tuple[int, int]]:
    """The image re-encoded (EXIF orientation applied, metadata such as a phone's location dropped), its
    extension and its size; CoverError says what is wrong with anything else."""
    if not data:
        raise CoverError("the file is empty")
    if len(data) > max_bytes:  # only as much is read as tells this
        raise CoverError(f"the file is larger than {size_of(max_bytes)}, the most a cover may be")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise CoverError(f"a cover must be a JPEG or PNG image; this is {image.format or 'another format'}")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise CoverError(f"the image is {width}×{height} pixels: too large to be a cover")
            if width + height > MAX_SIDES or max(width, height) > MAX_RATIO * min(width, height):
                raise CoverError(f"the image is {width}×{height} pixels; Telegram takes photos whose width and "
                                 f"height add up to at most {MAX_SIDES} and differ at most {MAX_RATIO} times")
            extension = FORMATS[image.format][0]
            image.load()
            upright = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if extension == "jpg":
                upright = upright if upright.mode in ("RGB", "L") else upright.convert("RGB")
                upright.save(out, "JPEG", quality=90, optimize=True)
            else:
                upright.save(out, "PNG", optimize=True)
            return out.getvalue(), extension, upright.size
    except UnidentifiedImageError:
        raise CoverError("the file is not an image (a cover must be a JPEG or PNG image)") from None
    except Image.DecompressionBombError:
        raise CoverError("the image has too many pixels to be a cover") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, CoverError):
            raise
        raise CoverError("the image is damaged or cut short: it cannot be read") from None


def store(web: WebSettings, event_id: str, data: bytes) -> StoredCover:
    """Check an upload and keep it as `<event>-<hash>.<ext>` (the same image twice is one file); CoverError if
    it is not a fit cover. Its URL is absolute with `[web] public_url`; without it (a fresh install) the path on
    this app, made absolute where a platform fetches it once public_url is set."""
    image, extension, (width, height) = checked(data, web.cover_max_bytes)
    name = f"{event_id if SLUG_PATTERN.match(event_id) else 'new'}-{hashlib.sha256(image).hexdigest()[:16]}.{extension}"
    url = absolute(web, f"{ROUTE}/{name}") or f"{ROUTE}/{name}"
    path = web.covers_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(image)
            os.replace(temporary, path)  # whole or not at all: a reader never sees half a file
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return StoredCover(name=name, url=url, width=width, height=height)


# Uploads no saved event uses (a form refused, or not sent again) are kept this long and at most this many, so a
# form sent back with errors keeps its picture while nobody can fill the disk with uploads never saved.
UNUSED_KEPT = 20
UNUSED_FOR = 86_400  # seconds


def name_of(url: str | None) -> str | None:
    """The stored file an event's cover URL names, if it is one of ours (absolute or a /covers/ path)."""
    if not url or f"{ROUTE}/" not in url:
        return None
    name = url.rsplit("/", 1)[-1]
    return name if NAME.match(name) else None


def sweep(covers_dir: Path, used: set[str], now: float) -> list[str]:
    """Remove the uploads no event uses, beyond the newest UNUSED_KEPT and any older than UNUSED_FOR seconds
    (an orphan); the names removed."""
    try:
        files = [path for path in covers_dir.iterdir() if NAME.match(path.name) and path.name not in used]
    except FileNotFoundError:
        return []
    files.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    removed = []
    for index, path in enumerate(files):
        if index >= UNUSED_KEPT or now - path.stat().st_mtime > UNUSED_FOR:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def file_of(covers_dir: Path, name: str) -> Path | None:
    """The stored file a /covers/<name> link means, or None (a name the app did not make, or gone)."""
    if not NAME.match(name):
        return None
    path = covers_dir / name
    return path if path.is_file() else None


async def serve(request: Request) -> Response:
    """A stored cover, for anyone: the platforms fetch it from here. Its name carries its hash: kept for good."""
    path = file_of(web_of(request).settings.web.covers_dir, request.path_params["name"])
    if path is None:
        raise HTTPException(404, "no such cover")
    media_type = FORMATS["JPEG" if path.suffix == ".jpg" else "PNG"][1]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})


routes = [Route(f"{ROUTE}/{{name}}", serve, methods=["GET", "HEAD"], name="cover")]
