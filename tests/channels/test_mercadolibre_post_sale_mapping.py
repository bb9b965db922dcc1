"""Mercado Libre's question and claim JSON read into the hub's values (the spec's examples)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alephee.channels.mercadolibre.post_sale import claim_data, question_data


def test_a_searched_question_with_a_banned_answer() -> None:
    data = question_data(
        {
            "date_created": "2021-02-16T14:50:27.938-04:00",
            "item_id": "MLA903218023",
            "seller_id": 189394110,
            "status": "ANSWERED",
            "text": "¿Tienen en azul?",
            "id": 11764931832,
            "deleted_from_listing": False,
            "hold": False,
            "suspected_spam": False,
            "answer": {"text": "", "status": "BANNED", "date_created": "2021-02-16T15:00:00.000-04:00"},
            "from": {"id": 162981404},
        }
    )
    assert (data.external_id, data.item_id, data.status, data.buyer_id) == (
        "11764931832",
        "MLA903218023",
        "ANSWERED",
        162981404,
    )
    assert data.date_created == datetime(2021, 2, 16, 18, 50, 27, 938000, tzinfo=UTC)
    assert (data.answer_text, data.answer_status) == ("", "BANNED")
    assert data.answer_date == datetime(2021, 2, 16, 19, 0, tzinfo=UTC)


def test_an_unanswered_question_has_no_answer() -> None:
    data = question_data({"id": "5036111111", "item_id": "MLA1", "text": "Hola", "status": "unanswered"})
    assert (data.status, data.answer_text, data.answer_status, data.buyer_id) == ("UNANSWERED", None, None, None)


@pytest.mark.parametrize("body", [{}, {"id": 1}, {"item_id": "MLA1"}])
def test_a_question_without_id_or_item_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        question_data(body)


def test_the_worked_claim_example() -> None:
    data = claim_data(
        {
            "id": 5281510459,
            "resource_id": 2000007819609432,
            "status": "closed",
            "type": "mediations",
            "stage": "claim",
            "parent_id": None,
            "resource": "order",
            "reason_id": "PDD9549",
            "players": [],
            "resolution": {
                "reason": "payment_refunded",
                "date_created": "2024-03-01T10:00:00.000-03:00",
                "benefited": ["complainant"],
                "closed_by": "respondent",
                "applied_coverage": False,
            },
            "site_id": "MLA",
            "date_created": "2024-02-20T10:00:00.000-03:00",
            "last_updated": "2024-03-01T10:00:00.000-03:00",
        }
    )
    assert (data.external_id, data.status, data.type, data.stage) == ("5281510459", "closed", "mediations", "claim")
    assert (data.resource, data.resource_id, data.reason_id) == ("order", "2000007819609432", "PDD9549")
    assert data.resolution_reason == "payment_refunded"
    assert data.date_created == datetime(2024, 2, 20, 13, 0, tzinfo=UTC)
    assert data.last_updated == datetime(2024, 3, 1, 13, 0, tzinfo=UTC)


def test_an_open_claim_without_resolution() -> None:
    data = claim_data({"id": "51", "status": "opened", "resource": "Shipment", "resource_id": "44028792542"})
    assert (data.status, data.resource, data.resource_id, data.resolution_reason) == (
        "opened",
        "shipment",
        "44028792542",
        None,
    )
    with pytest.raises(ValueError):
        claim_data({"status": "opened"})
