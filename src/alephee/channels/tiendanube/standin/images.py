"""Product images: the images a product create or update sends (``src`` rewritten to the platform's CDN,
250 at most) and the image endpoints (list, one, create from ``src`` or a base64 ``attachment`` — ``.gif``,
``.jpg``, ``.png`` under 10 MB —, update of ``position``/``alt``/``src``, delete)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin.common import as_int, common_filters, invalid, not_found, now, refuse, stamp
from alephee.channels.tiendanube.standin.webhooks import Webhooks

IMAGE_ID_BASE = 2000000000
MAX_IMAGES = 250
MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = (".gif", ".jpg", ".jpeg", ".png")
CDN = "https://cdn.tiendanube.example/stores"


def build(tx: Tx, store_id: int, product_id: int, value: Any) -> list[dict[str, Any]]:
    """The images of a product create or update (``[{"src", "position"?, "alt"?}]``)."""
    if not isinstance(value, list):
        raise refuse(400, "Invalid input format")
    if len(value) > MAX_IMAGES:
        raise refuse(422, f"Product is not allowed to have more than {MAX_IMAGES} images")
    images = []
    for position, entry in enumerate(value, start=1):
        src = entry.get("src") if isinstance(entry, dict) else None
        if not isinstance(src, str) or not src.strip():
            raise invalid(src=["can't be blank"])
        name = src.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "image.jpg"
        images.append(
            _image(tx, store_id, product_id, name, as_int(entry.get("position")) or position, entry.get("alt"))
        )
    return images


def _image(tx: Tx, store_id: int, product_id: int, name: str, position: int, alt: Any) -> dict[str, Any]:
    moment = stamp(now())
    image_id = tx.next_id("tn_image", IMAGE_ID_BASE)
    return {
        "id": image_id,
        "product_id": product_id,
        "src": f"{CDN}/{store_id}/products/{image_id}-{name}",
        "position": position,
        "alt": alt or [],
        "created_at": moment,
        "updated_at": moment,
    }


def _product(tx: Tx, store_id: int, product_id: int) -> dict[str, Any]:
    product = tx.get("tn_product", product_id, store_id)
    if product is None:
        raise not_found("Product")
    return product


def _save(tx: Tx, hooks: Webhooks, store_id: int, product: dict[str, Any]) -> None:
    product["images"].sort(key=lambda image: (image["position"], image["id"]))
    product["updated_at"] = stamp(now())
    tx.put("tn_product", product["id"], product, owner=store_id)
    hooks.emit(tx, store_id, "product/updated", id=product["id"])


def search(tx: Tx, store_id: int, product_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /products/{id}/images``: by position, filtered by ``since_id``, ``src`` and ``position``."""
    keep = common_filters(query)
    position = as_int(query.get("position"))
    return [
        image
        for image in _product(tx, store_id, product_id)["images"]
        if keep(image)
        and query.get("src", image["src"]) == image["src"]
        and (position is None or image["position"] == position)
    ]


def get(tx: Tx, store_id: int, product_id: int, image_id: int) -> dict[str, Any]:
    """One image of the product; 404 otherwise."""
    image = next((i for i in _product(tx, store_id, product_id)["images"] if i["id"] == image_id), None)
    if image is None:
        raise not_found("Image")
    return image


def create(tx: Tx, hooks: Webhooks, store_id: int, product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /products/{id}/images``: from ``src`` or from ``filename`` + base64 ``attachment``."""
    product = _product(tx, store_id, product_id)
    if len(product["images"]) >= MAX_IMAGES:
        raise refuse(422, f"Product is not allowed to have more than {MAX_IMAGES} images")
    src, attachment = body.get("src"), body.get("attachment")
    if isinstance(attachment, str) and attachment:
        filename = str(body.get("filename") or "")
        if not filename.lower().endswith(EXTENSIONS):
            raise invalid(filename=["The file must be a .gif, .jpg or .png image."])
        try:
            size = len(base64.b64decode(attachment, validate=True))
        except (binascii.Error, ValueError):
            raise invalid(attachment=["The attachment must be base64 encoded."]) from None
        if size >= MAX_BYTES:
            raise invalid(attachment=["The image must be smaller than 10 MB."])
        name = filename
    elif isinstance(src, str) and src.strip():
        name = src.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "image.jpg"
    else:
        raise invalid(src=["can't be blank"])
    position = as_int(body.get("position")) or len(product["images"]) + 1
    image = _image(tx, store_id, product_id, name, position, body.get("alt"))
    product["images"].append(image)
    _save(tx, hooks, store_id, product)
    return image


def update(
    tx: Tx, hooks: Webhooks, store_id: int, product_id: int, image_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """``PUT /products/{id}/images/{image_id}``: ``position``, ``alt``, ``src``."""
    product = _product(tx, store_id, product_id)
    image = get(tx, store_id, product_id, image_id)
    if "position" in body:
        position = as_int(body["position"])
        if position is None or position < 1:
            raise invalid(position=["The position must be at least 1."])
        image["position"] = position
    if "alt" in body:
        image["alt"] = body["alt"] or []
    if isinstance(body.get("src"), str) and body["src"].strip():
        image["src"] = f"{CDN}/{store_id}/products/{image_id}-" + body["src"].rstrip("/").rsplit("/", 1)[-1]
    image["updated_at"] = stamp(now())
    product["images"] = [image if other["id"] == image_id else other for other in product["images"]]
    _save(tx, hooks, store_id, product)
    return image


def delete(tx: Tx, hooks: Webhooks, store_id: int, product_id: int, image_id: int) -> None:
    """``DELETE /products/{id}/images/{image_id}`` (variants linked to it lose the link)."""
    product = _product(tx, store_id, product_id)
    get(tx, store_id, product_id, image_id)
    product["images"] = [image for image in product["images"] if image["id"] != image_id]
    for variant in product["variants"]:
        if variant["image_id"] == image_id:
            variant["image_id"] = None
    _save(tx, hooks, store_id, product)
