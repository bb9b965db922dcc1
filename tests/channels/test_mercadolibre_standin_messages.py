"""The stand-in's post-sale messages over HTTP: ``tag=post_sale`` required, 350 characters for the seller,
reading marks the buyer's messages read unless ``mark_as_read=false``, cancelled orders block the conversation."""

from __future__ import annotations

from typing import Any

from tests.fixtures.mercadolibre import OTHER, SELLER, StandIn

TAG = {"tag": "post_sale"}


def conversation(ml: StandIn) -> tuple[dict[str, Any], str]:
    order = ml.standin.buy(ml.item()["id"])
    return order, f"/messages/packs/{order['pack_id']}/sellers/{SELLER.id}"


def reply(order: dict[str, Any], text: str) -> dict[str, Any]:
    return {"from": {"user_id": str(SELLER.id)}, "to": {"user_id": order["buyer"]["id"]}, "text": text}


def test_buyer_writes_seller_reads_and_replies(ml: StandIn) -> None:
    order, url = conversation(ml)
    written = ml.api.post("/_test/messages", json={"pack_id": order["pack_id"], "text": "Hola, ¿cuándo llega?"})
    assert written.status_code == 201
    unread = ml.api.get(url, params=TAG | {"mark_as_read": "false"}, headers=ml.headers()).json()
    assert unread["messages"][0]["message_date"]["read"] is None
    assert unread["seller_max_message_length"] == 350 and unread["buyer_max_message_length"] == 3500
    assert unread["conversation_status"]["status"] == "active"
    assert unread["conversation_status"]["path"] == f"/packs/{order['pack_id']}/seller/{SELLER.id}"
    read = ml.api.get(url, params=TAG, headers=ml.headers()).json()
    message = read["messages"][0]
    assert message["message_date"]["read"] is not None and message["from"] == {"user_id": order["buyer"]["id"]}
    assert set(message) >= {"id", "site_id", "from", "to", "status", "text", "message_date", "message_moderation",
                            "message_attachments", "message_resources", "conversation_first_message"}  # fmt: skip
    sent = ml.api.post(url, params=TAG, json=reply(order, "Sale hoy."), headers=ml.headers())
    assert sent.status_code == 201 and sent.json()["to"] == {"user_id": order["buyer"]["id"]}
    listed = ml.api.get(url, params=TAG, headers=ml.headers()).json()
    assert listed["paging"] == {"limit": 10, "offset": 0, "total": 2}
    assert [m["text"] for m in listed["messages"]] == ["Hola, ¿cuándo llega?", "Sale hoy."]
    one = ml.api.get(f"/messages/{sent.json()['id']}", params=TAG, headers=ml.headers())
    assert one.status_code == 200 and one.json()["text"] == "Sale hoy."


def test_tag_length_and_owner_rules(ml: StandIn) -> None:
    order, url = conversation(ml)
    assert ml.api.get(url, headers=ml.headers()).status_code == 400
    assert ml.api.post(url, json=reply(order, "Hola"), headers=ml.headers()).status_code == 400
    assert ml.api.get("/messages/abc", headers=ml.headers()).status_code == 400
    long = ml.api.post(url, params=TAG, json=reply(order, "x" * 351), headers=ml.headers())
    assert long.status_code == 400
    assert ml.api.post(url, params=TAG, json=reply(order, "x" * 350), headers=ml.headers()).status_code == 201
    assert ml.api.get(url, params=TAG | {"limit": "0"}, headers=ml.headers()).json()["message"] == (
        "The limit param must be greater than 0"
    )
    assert ml.api.get(url, params=TAG, headers=ml.headers(OTHER)).status_code == 403


def test_cancelled_orders_block_the_conversation(ml: StandIn) -> None:
    order, url = conversation(ml)
    ml.standin.cancel_order(order["id"])
    refused = ml.api.post(url, params=TAG, json=reply(order, "Hola"), headers=ml.headers())
    assert refused.status_code == 403
    assert refused.json() == {
        "status_code": 403,
        "code": "forbidden",
        "message": "blocked_conversation_send_message_forbidden",
    }
    status = ml.api.get(url, params=TAG, headers=ml.headers()).json()["conversation_status"]
    assert (status["status"], status["substatus"]) == ("blocked", "blocked_by_cancelled_order")
