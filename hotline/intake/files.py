"""A citizen's files: photos checked by decoding them and re-encoded without their metadata (the phone's GPS
position, its owner's name), other attachments kept as they came; all stored by their SHA-256 under
``<state dir>/attachments`` (the same file twice is one file), never executed, never served with its own type."""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from hotline.domain.errors import HotlineError

#: What a photo may be (as Pillow decodes it): these, and nothing that only says it is one.
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}
#: Attachments an e-mail may bring besides photos, kept as they are (the console offers them as downloads).
DOCUMENT_TYPES = {"application/pdf", "text/plain"}
MAX_PIXELS = 25_000_000          # a larger image is refused before it is decoded (a 300 kB PNG may say 80 Mpx)


class FileRefused(HotlineError, ValueError):
    """A file the hotline does not take; ``vi`` says why to the citizen."""


@dataclass(frozen=True)
class Upload:
    """A file as a door received it: the name the citizen gave it, the type it claims, its bytes."""

    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Stored:
    """A file kept: its name (as given), its real type, its size, its SHA-256 and where it is (relative)."""

    filename: str
    media_type: str
    size: int
    sha256: str
    path: str


def photo(upload: Upload, max_bytes: int, max_side: int) -> tuple[str, bytes]:
    """The photo decoded and re-encoded (JPEG, or PNG where it has transparency), at most ``max_side`` pixels
    wide or high, without its metadata; FileRefused if it is too large or is not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    _size_checked(upload, max_bytes)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(upload.data)) as opened:
            if opened.format not in PHOTO_FORMATS:
                raise UnidentifiedImageError(opened.format)
            if opened.width * opened.height > MAX_PIXELS:     # Pillow itself only warns below twice its limit
                raise Image.DecompressionBombError(f"{opened.width}x{opened.height}")
            opened.draft("RGB", (max_side, max_side))          # a JPEG is decoded at the size it is kept
            opened.load()
            image = ImageOps.exif_transpose(opened)      # the orientation kept, the EXIF block itself dropped
            image.thumbnail((max_side, max_side))
            alpha = image.mode in ("RGBA", "LA", "P") and "transparency" in image.info or image.mode in ("RGBA", "LA")
            out = io.BytesIO()
            if alpha:
                image.convert("RGBA").save(out, "PNG", optimize=True)
                return "image/png", out.getvalue()
            image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            return "image/jpeg", out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise FileRefused(f"{upload.filename!r} is not a photo the hotline can read ({e.__class__.__name__})",
                          vi=f"Tệp «{_shown(upload.filename)}» không phải là ảnh (JPEG, PNG, WEBP, GIF) hoặc "
                             "bị hỏng; hãy gửi ảnh khác.") from None


def document(upload: Upload, max_bytes: int) -> tuple[str, bytes]:
    """An attachment that is not a photo, kept as it is if its type is one the console may offer."""
    _size_checked(upload, max_bytes)
    media_type = upload.media_type.split(";")[0].strip().lower()
    if media_type == "application/pdf" and not upload.data.startswith(b"%PDF-"):
        media_type = "application/octet-stream"
    if media_type not in DOCUMENT_TYPES:
        raise FileRefused(f"{upload.filename!r}: {media_type} is not taken",
                          vi=f"Không nhận tệp «{_shown(upload.filename)}»: chỉ nhận ảnh, PDF hoặc văn bản.")
    return media_type, upload.data


def store(root: Path, upload: Upload, media_type: str, data: bytes) -> Stored:
    """``data`` written once under ``root`` by its SHA-256 (0640, written to a temporary name, fsynced, then
    renamed: a crash never leaves half a file under the real name)."""
    digest = hashlib.sha256(data).hexdigest()
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf", "text/plain": ".txt"}.get(
        media_type, ".bin")
    relative = f"{digest[:2]}/{digest}{ext}"
    target = root / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    return Stored(_shown(upload.filename) or f"tep{ext}", media_type, len(data), digest, relative)


def _size_checked(upload: Upload, max_bytes: int) -> None:
    if len(upload.data) > max_bytes:
        raise FileRefused(f"{upload.filename!r} is {len(upload.data)} bytes, more than {max_bytes}",
                          vi=f"Tệp «{_shown(upload.filename)}» lớn quá {max_bytes // 1_000_000} MB; hãy gửi tệp "
                             "nhỏ hơn.")
    if not upload.data:
        raise FileRefused(f"{upload.filename!r} is empty", vi=f"Tệp «{_shown(upload.filename)}» trống.")


def _shown(filename: str) -> str:
    """A file's name as the citizen gave it, safe to show and to keep: no folders, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:120]
