"""The two batch-result shapes of CF-00.4.2.1: ``ActionResult`` and ``Total/Results``.

Every element of a batch gets one entry, in request order. Levels: 99 Ok, 2 Info, 1 Warning, 0 Error;
an item's ``ValidationLevel`` is its worst message level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from alephee.http.body import raw_property
from alephee.http.errors import describe_validation_errors
from alephee.http.wire import WireModel, read_input

M = TypeVar("M", bound=BaseModel)

OK, INFO, WARNING, ERROR = 99, 2, 1, 0
LEVEL_NAMES = {OK: "Ok", INFO: "Info", WARNING: "Warning", ERROR: "Error"}
# Worst first: Error < Warning < Info < Ok.
SEVERITY = {ERROR: 0, WARNING: 1, INFO: 2, OK: 3}


class Level(WireModel):
    """``{"Id": 99|2|1|0, "Name": ...}``."""

    Id: int
    Name: str

    @classmethod
    def of(cls, level: int) -> Level:
        """The level object for a code."""
        return cls(Id=level, Name=LEVEL_NAMES[level])


LevelRef = Level


class ResultMessage(WireModel):
    """One message about one item."""

    Level: LevelRef
    Code: int = 0
    Message: str
    ValidatedValue: str | None = None


class ResultItem(WireModel):
    """The outcome of one request element. ``keyValue`` repeats ``KeyValue`` (both spellings are seen)."""

    ItemNumber: int
    ValidationLevel: LevelRef
    KeyField: str
    KeyValue: str | None
    keyValue: str | None = Field(default=None, description="Same as KeyValue (lower-camel spelling).")
    Messages: list[ResultMessage]


class Quantities(WireModel):
    """Counts of items by worst level."""

    Ok: int
    Error: int
    Warning: int
    Info: int
    Total: int


QuantitiesRef = Quantities


class ActionResult(WireModel):
    """Per-item outcome of a batch write."""

    Quantities: QuantitiesRef
    Items: list[ResultItem]


@dataclass
class ItemOutcome:
    """Messages gathered for one element while it is processed."""

    number: int
    key_value: str | None
    messages: list[tuple[int, int, str, str | None]] = field(default_factory=list)

    def add(self, level: int, message: str, value: Any = None, code: int = 0) -> None:
        """Record a message at ``level``."""
        self.messages.append((level, code, message, None if value is None else str(value)))

    def error(self, message: str, value: Any = None, code: int = 0) -> None:
        """Record an error (the element is not applied)."""
        self.add(ERROR, message, value, code)

    def warning(self, message: str, value: Any = None, code: int = 0) -> None:
        """Record a warning (the element is applied with a caveat)."""
        self.add(WARNING, message, value, code)

    def info(self, message: str, value: Any = None, code: int = 0) -> None:
        """Record an informational message."""
        self.add(INFO, message, value, code)

    @property
    def level(self) -> int:
        """Worst level recorded, Ok when none."""
        worst = OK
        for level, *_ in self.messages:
            if SEVERITY[level] < SEVERITY[worst]:
                worst = level
        return worst

    @property
    def failed(self) -> bool:
        """Whether an error was recorded."""
        return any(level == ERROR for level, *_ in self.messages)


class ActionResultBuilder:
    """Collects ``ItemOutcome`` s in request order and renders the ``ActionResult``."""

    def __init__(self, key_field: str) -> None:
        self.key_field = key_field
        self.items: list[ItemOutcome] = []

    def item(self, number: int, key_value: Any) -> ItemOutcome:
        """Start the outcome of element ``number``."""
        outcome = ItemOutcome(number=number, key_value=None if key_value is None else str(key_value))
        self.items.append(outcome)
        return outcome

    @property
    def processed_any(self) -> bool:
        """Whether at least one element was applied (no error)."""
        return any(not item.failed for item in self.items)

    def build(self) -> ActionResult:
        """The wire result."""
        counts = {OK: 0, INFO: 0, WARNING: 0, ERROR: 0}
        items: list[ResultItem] = []
        for outcome in self.items:
            level = outcome.level
            counts[level] += 1
            items.append(
                ResultItem(
                    ItemNumber=outcome.number,
                    ValidationLevel=Level.of(level),
                    KeyField=self.key_field,
                    KeyValue=outcome.key_value,
                    keyValue=outcome.key_value,
                    Messages=[
                        ResultMessage(Level=Level.of(lv), Code=code, Message=msg, ValidatedValue=value)
                        for lv, code, msg, value in outcome.messages
                    ],
                )
            )
        return ActionResult(
            Quantities=Quantities(
                Ok=counts[OK], Error=counts[ERROR], Warning=counts[WARNING], Info=counts[INFO], Total=len(items)
            ),
            Items=items,
        )


NOT_AN_OBJECT = "Each element must be a JSON object"


def validate_element(
    result: ActionResultBuilder, number: int, raw: Any, model: type[M], key_name: str, code: int = 0
) -> tuple[ItemOutcome, M | None]:
    """Start element ``number``'s outcome (keyed by its ``key_name`` property) and validate it as ``model``.

    A non-object or invalid element gets its error recorded and ``None``: batch services skip it and go on.
    """
    key = raw_property(raw, key_name)
    outcome = result.item(number, key)
    if not isinstance(raw, dict):
        outcome.error(NOT_AN_OBJECT, None, code)
        return outcome, None
    try:
        return outcome, read_input(model, raw)
    except ValidationError as exc:
        outcome.error(describe_validation_errors(exc.errors()), key, code)
        return outcome, None
