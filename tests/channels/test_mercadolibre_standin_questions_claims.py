"""The stand-in's questions and claims over HTTP: search filters and their refusals, one question, answers
(``invalid_post_body``, ``invalid_question``, 2,000 characters), deletion, bans; claims read, detailed, searched
(at least one real filter, else ``invalid_query``) and closed; every change notified with its topic."""

from __future__ import annotations

from typing import Any

from alephee.channels.mercadolibre.standin.market import Market
from tests.fixtures.mercadolibre import OTHER, SELLER, StandIn

V4 = {"api_version": "4"}


def asked(ml: StandIn, text: str = "¿Viene con garantía?") -> tuple[dict[str, Any], dict[str, Any]]:
    item = ml.item()
    made = ml.api.post("/_test/questions", json={"item_id": item["id"], "text": text, "buyer_id": 777})
    assert made.status_code == 201, made.text
    return item, made.json()


def test_a_question_is_searched_read_and_answered(ml: StandIn) -> None:
    item, question = asked(ml)
    assert set(question) >= {"id", "seller_id", "item_id", "date_created", "status", "text", "deleted_from_listing",
                             "hold", "suspected_spam", "answer", "from"}  # fmt: skip
    assert (question["status"], question["answer"], question["from"]) == ("UNANSWERED", None, {"id": 777})
    found = ml.api.get("/questions/search", params={"seller_id": SELLER.id, **V4}, headers=ml.headers()).json()
    assert found["total"] == 1 and [q["id"] for q in found["questions"]] == [question["id"]]
    by_item = ml.api.get("/questions/search", params={"item": item["id"], "status": "ANSWERED"}, headers=ml.headers())
    assert by_item.json()["total"] == 0
    one = ml.api.get(f"/questions/{question['id']}", params=V4, headers=ml.headers())
    assert one.status_code == 200 and one.json()["text"] == "¿Viene con garantía?"

    body = {"question_id": question["id"], "text": "Sí, doce meses. ñandú ✓"}
    answered = ml.api.post("/answers", json=body, headers=ml.headers())
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "ANSWERED"
    assert answered.json()["answer"]["text"] == "Sí, doce meses. ñandú ✓"
    assert answered.json()["answer"]["status"] == "ACTIVE"
    again = ml.api.post("/answers", json=body, headers=ml.headers())
    assert again.status_code == 400 and again.json()["error"] == "invalid_question"


def test_answer_and_search_refusals(ml: StandIn) -> None:
    _item, question = asked(ml)
    for body in ({"text": "hola"}, {"question_id": question["id"]}, {"question_id": question["id"], "text": " "}):
        refused = ml.api.post("/answers", json=body, headers=ml.headers())
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_post_body"
    not_json = ml.api.post("/answers", content=b"[1]", headers=ml.headers())
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_post_body"
    too_long = ml.api.post("/answers", json={"question_id": question["id"], "text": "x" * 2001}, headers=ml.headers())
    assert too_long.status_code == 400 and too_long.json()["error"] == "invalid_post_body"
    other = ml.api.post("/answers", json={"question_id": question["id"], "text": "hola"}, headers=ml.headers(OTHER))
    assert other.status_code == 400 and other.json()["error"] == "invalid_question"
    assert ml.api.get("/questions/search", headers=ml.headers()).status_code == 400
    foreign = ml.api.get("/questions/search", params={"seller_id": SELLER.id}, headers=ml.headers(OTHER))
    assert foreign.status_code == 403
    bad = ml.api.get("/questions/search", params={"seller_id": SELLER.id, "status": "NOPE"}, headers=ml.headers())
    assert bad.status_code == 400
    assert ml.api.get(f"/questions/{question['id']}", headers=ml.headers(OTHER)).status_code == 403
    assert ml.api.get("/questions/99", headers=ml.headers()).status_code == 404
    assert ml.api.get("/questions/abc", headers=ml.headers()).status_code == 400


def test_deleted_and_banned_questions(ml: StandIn) -> None:
    _item, question = asked(ml)
    deleted = ml.api.delete(f"/questions/{question['id']}", headers=ml.headers())
    assert deleted.status_code == 200 and deleted.json() == ["Question deleted."]
    assert ml.api.get(f"/questions/{question['id']}", headers=ml.headers()).json()["status"] == "DELETED"
    _item, other = asked(ml, "Spam")
    banned = ml.api.post(f"/_test/questions/{other['id']}/ban")
    assert banned.status_code == 200 and (banned.json()["status"], banned.json()["text"]) == ("BANNED", "")
    listed = ml.api.get("/questions/search", params={"seller_id": SELLER.id, "status": "BANNED"}, headers=ml.headers())
    assert [q["id"] for q in listed.json()["questions"]] == [other["id"]]


def test_questions_notify_their_topic(ml: StandIn) -> None:
    _item, question = asked(ml)
    ml.api.post("/answers", json={"question_id": question["id"], "text": "Sí"}, headers=ml.headers())
    missed = ml.api.get("/missed_feeds", params={"app_id": "5503910054141466", "topic": "questions"},
                        headers=ml.headers()).json()  # fmt: skip
    resources = [m["resource"] for m in missed["messages"]]
    assert resources and set(resources) == {f"/questions/{question['id']}"}


def opened(ml: StandIn) -> tuple[dict[str, Any], dict[str, Any]]:
    order = ml.standin.buy(ml.item()["id"])
    made = ml.api.post("/_test/claims", json={"order_id": order["id"]})
    assert made.status_code == 201, made.text
    return order, made.json()


def test_a_claim_is_read_searched_and_closed(ml: StandIn) -> None:
    order, claim = opened(ml)
    assert (claim["status"], claim["type"], claim["stage"], claim["resource"]) == (
        "opened",
        "mediations",
        "claim",
        "order",
    )
    assert claim["resource_id"] == order["id"] and claim["resolution"] is None
    roles = {p["role"]: p for p in claim["players"]}
    assert roles["respondent"]["user_id"] == SELLER.id and roles["complainant"]["user_id"] == order["buyer"]["id"]
    url = f"/post-purchase/v1/claims/{claim['id']}"
    assert ml.api.get(url, headers=ml.headers()).json()["id"] == claim["id"]
    detail = ml.api.get(f"{url}/detail", headers=ml.headers()).json()
    assert set(detail) == {"due_date", "action_responsible", "title", "description", "problem"}
    assert detail["action_responsible"] == "seller"
    query = {"players.role": "respondent", "players.user_id": SELLER.id, "status": "opened", "limit": 30}
    found = ml.api.get("/post-purchase/v1/claims/search", params=query, headers=ml.headers()).json()
    assert found["paging"]["total"] == 1 and [c["id"] for c in found["data"]] == [claim["id"]]

    closed = ml.api.post(f"/_test/claims/{claim['id']}/close", json={"reason": "payment_refunded"})
    assert closed.status_code == 200
    resolution = ml.api.get(url, headers=ml.headers()).json()["resolution"]
    assert (resolution["reason"], resolution["closed_by"]) == ("payment_refunded", "respondent")
    found = ml.api.get("/post-purchase/v1/claims/search", params=query, headers=ml.headers()).json()
    assert found["paging"]["total"] == 0
    missed = ml.api.get("/missed_feeds", params={"app_id": "5503910054141466", "topic": "post_purchase"},
                        headers=ml.headers()).json()  # fmt: skip
    assert {(m["resource"], tuple(m["actions"])) for m in missed["messages"]} == {(url, ("claims",))}


def test_a_claim_on_a_payment_names_the_payment(ml: StandIn) -> None:
    order, _claim = opened(ml)
    [payment] = order["payments"]
    made = ml.api.post("/_test/claims", json={"order_id": order["id"], "resource": "payment"})
    assert made.status_code == 201
    claim = made.json()
    assert (claim["resource"], claim["resource_id"]) == ("payment", payment["id"])
    query = {"payment_id": str(payment["id"]), "resource": "payment"}
    found = ml.api.get("/post-purchase/v1/claims/search", params=query, headers=ml.headers()).json()
    assert [c["id"] for c in found["data"]] == [claim["id"]]
    other = ml.api.get("/post-purchase/v1/claims/search", params={"payment_id": "1"}, headers=ml.headers()).json()
    assert other["paging"]["total"] == 0
    refused = ml.api.post("/_test/claims", json={"order_id": order["id"], "resource": "item"})
    assert refused.status_code == 400


def test_claim_refusals(ml: StandIn) -> None:
    _order, claim = opened(ml)
    paging_only = ml.api.get("/post-purchase/v1/claims/search", params={"limit": 10, "offset": 0}, headers=ml.headers())
    assert paging_only.status_code == 400 and paging_only.json()["error"] == "invalid_query"
    missing = ml.api.get("/post-purchase/v1/claims/5", headers=ml.headers())
    assert missing.status_code == 404 and missing.json()["error"] == "business_logic_error"
    assert missing.json()["message"] == "Resource not found"
    foreign = ml.api.get(f"/post-purchase/v1/claims/{claim['id']}", headers=ml.headers(OTHER))
    assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden_error"
    assert ml.api.post(f"/_test/claims/{claim['id']}/close", json={}).status_code == 200
    assert ml.api.post(f"/_test/claims/{claim['id']}/close", json={}).status_code == 400
    assert ml.api.post("/_test/claims", json={}).status_code == 400


def test_the_market_leaves_one_question_and_one_claim(ml: StandIn) -> None:
    ml.item()
    market = Market(ml.standin.store, ml.standin.notifier, seed=3)
    done = [market.tick() for _ in range(3)]
    assert [d["Questions"] for d in done] == [1, 0, 0] and [d["Claims"] for d in done] == [1, 0, 0]
    query = {"seller_id": SELLER.id, "status": "UNANSWERED"}
    assert ml.api.get("/questions/search", params=query, headers=ml.headers()).json()["total"] == 1
    claims = {"players.role": "respondent", "players.user_id": SELLER.id, "status": "opened"}
    assert (
        ml.api.get("/post-purchase/v1/claims/search", params=claims, headers=ml.headers()).json()["paging"]["total"]
        == 1
    )
