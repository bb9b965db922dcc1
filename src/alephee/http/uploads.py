"""File uploads: a multipart ``file`` part or a JSON body with ``fileBase64``, and the other fields sent with it.

The reader runs after authentication and the rate limit (routes declare it after the account dependency). Sizes
are capped while reading: a multipart part is read at most one byte past the cap, and a base64 text over the cap
is refused before it is decoded. What a file may contain is the caller's rule (``decode`` and ``too_large``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from alephee.errors import DomainError, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from alephee.http.body import NOT_AN_OBJECT, TOO_MANY, body_doc, is_json_media, media_type, read_json, validate


class FileRequired(InvalidInput):
    """No file was sent (400)."""

    message = "A file is required: a multipart/form-data part named 'file', or a JSON body with 'fileBase64'"


class FilePartNotAFile(InvalidInput):
    """The multipart part ``file`` is a plain field (400)."""

    message = "The multipart part 'file' must be a file"


class UploadMediaUnsupported(UnsupportedMediaType):
    """The body is neither multipart/form-data nor JSON (415)."""

    message = "Content-Type must be multipart/form-data or application/json"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file received by an upload endpoint (multipart part or decoded base64), already size-checked."""

    data: bytes
    name: str | None
    extension: str | None


Upload = tuple[UploadedFile | None, dict[str, Any]]
# The JSON properties that carry the file itself (the rest are the upload's other fields).
_FILE_FIELDS = ("fileBase64", "documentName", "documentExtension")
_FILE_PART = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}


def upload_doc(model: type[BaseModel], *, required: bool, description: str) -> dict[str, Any]:
    """``openapi_extra`` of an upload route: the JSON body of ``model`` or a multipart part ``file``."""
    doc = body_doc(model, array=False, description=description)
    doc["requestBody"]["required"] = required
    doc["requestBody"]["content"]["multipart/form-data"] = {"schema": _FILE_PART}
    return doc


async def read_upload(
    request: Request,
    model: type[BaseModel],
    *,
    max_bytes: int,
    decode: Callable[[str], bytes],
    too_large: Callable[[], DomainError],
) -> Upload:
    """The uploaded file (None when none was sent) and the other fields sent with it: ``too_large()`` over
    ``max_bytes``, then 400 for malformed content. ``decode`` turns a ``fileBase64`` text into bytes."""
    content_type = media_type(request)
    request.scope.setdefault("state", {})["items"] = 1
    if content_type == "multipart/form-data":
        form = await request.form(max_files=5, max_fields=50)
        fields: dict[str, Any] = {}
        part: Any = None
        for key, value in form.multi_items():
            if key.lower() == "file" and part is None:
                part = value
            elif isinstance(value, str):
                fields.setdefault(key, value)
        if part is None:
            return None, fields
        if not isinstance(part, UploadFile):
            raise FilePartNotAFile()
        data = await part.read(max_bytes + 1)
        await form.close()
        if len(data) > max_bytes:
            raise too_large()
        return UploadedFile(data=data, name=part.filename, extension=None), fields
    raw = await request.body()
    if not raw.strip():
        return None, {}
    if not is_json_media(content_type):
        raise UploadMediaUnsupported()
    data_json = await read_json(request)
    if isinstance(data_json, list):
        if len(data_json) > 1:
            raise PayloadTooLarge(TOO_MANY.format(count=len(data_json), cap=1))
        data_json = data_json[0] if data_json else None
    if not isinstance(data_json, dict):
        raise InvalidInput(NOT_AN_OBJECT)
    body: Any = validate(model, data_json)
    fields = {k: v for k, v in body.model_dump().items() if k not in _FILE_FIELDS}
    if body.fileBase64 is None or not body.fileBase64.strip():
        return None, fields
    return UploadedFile(data=decode(body.fileBase64), name=body.documentName, extension=body.documentExtension), fields
