"""Paging and sorting of list endpoints, and the paged envelope (CF-00.4.1 rules 8-10, CF-00.3.2).

``offset`` defaults to 0, ``limit`` to 100; a ``limit`` over the endpoint's cap is served capped with
HTTP 206 and ``Paging.Limit`` = the effective limit. Sorts are ascending only; an unknown sort is a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel

from alephee.errors import DomainError, InvalidInput, RangeNotSatisfiable
from alephee.http.context import AppContext
from alephee.http.params import MAX_INT32, NotAnInteger, query_int
from alephee.http.wire import JSON_MEDIA, WireModel

DEFAULT_LIMIT = 100

NEGATIVE_OFFSET = "'offset' must be 0 or greater"
OFFSET_TOO_LARGE = "'offset' is out of range"
LIMIT_TOO_SMALL = "'limit' must be 1 or greater"
UNKNOWN_SORT = "Unknown sort '{value}'. Available sorts: {available}"


class NegativeOffset(RangeNotSatisfiable):
    """``offset`` is negative (416)."""

    message = NEGATIVE_OFFSET


class OffsetTooLarge(RangeNotSatisfiable):
    """``offset`` is beyond the largest row number (416)."""

    message = OFFSET_TOO_LARGE


class LimitTooSmall(RangeNotSatisfiable):
    """``limit`` is 0 or negative (416)."""

    message = LIMIT_TOO_SMALL


class UnknownSort(InvalidInput):
    """``sort`` names no sort of the endpoint (400)."""

    message = UNKNOWN_SORT

    def __init__(self, value: str, available: str) -> None:
        super().__init__(UNKNOWN_SORT.format(value=value, available=available))


# What reading the paging of a list endpoint can refuse.
PAGING_REFUSALS: tuple[type[DomainError], ...] = (
    NotAnInteger,
    UnknownSort,
    NegativeOffset,
    OffsetTooLarge,
    LimitTooSmall,
)


@dataclass(frozen=True, slots=True)
class SortOption:
    """One accepted ``sort`` value: its wire id and display name."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Page:
    """The paging a list request resolved to."""

    offset: int
    limit: int
    sort: SortOption
    sort_requested: bool
    partial: bool
    available: tuple[SortOption, ...]


class SortRef(WireModel):
    """``{"Id", "Name"}`` of a sort."""

    Id: str
    Name: str


class PagingInfo(WireModel):
    """``Paging`` block of the envelope."""

    Limit: int
    Offset: int
    Total: int


T = TypeVar("T")


class Paged(WireModel, Generic[T]):
    """The paged list envelope."""

    Total: int
    Paging: PagingInfo
    SortBy: SortRef | None = None
    AvailableSorts: list[SortRef]
    Results: list[T]


def _int(value: str | None, name: str, default: int) -> int:
    number = query_int(value, name)
    return default if number is None else number


@dataclass(frozen=True)
class Paging:
    """The sorts a list endpoint accepts (the first is the default) and how its paging query is read."""

    available: tuple[SortOption, ...]
    default: SortOption

    @classmethod
    def of(cls, sorts: Sequence[SortOption], default_sort: str | None = None) -> Paging:
        """Paging over ``sorts``; ``default_sort`` names the default (else the first)."""
        available = tuple(sorts)
        wanted = (default_sort or available[0].id).lower()
        return cls(available=available, default=next(s for s in available if s.id.lower() == wanted))

    def docs(self) -> dict[str, str]:
        """Descriptions of ``offset``, ``limit`` and ``sort`` for the OpenAPI page."""
        return {
            "offset": "Records to skip (default 0).",
            "limit": "Page size (default 100; over the cap → 206).",
            "sort": "Ascending sort: " + ", ".join(s.id for s in self.available) + f" (default {self.default.id}).",
        }

    def parse(self, cap: int | None, offset: str | None, limit: str | None, sort: str | None) -> Page:
        """The page asked for (416/400 on bad values); a limit over ``cap`` is capped and marked partial."""
        off = _int(offset, "offset", 0)
        lim = _int(limit, "limit", DEFAULT_LIMIT)
        if off < 0:
            raise NegativeOffset()
        if off > MAX_INT32:
            raise OffsetTooLarge()
        if lim < 1:
            raise LimitTooSmall()
        partial = cap is not None and lim > cap
        if partial:
            lim = cap  # type: ignore[assignment]
        lim = min(lim, MAX_INT32)
        chosen = self.default
        requested = sort is not None and sort.strip() != ""
        if requested:
            assert sort is not None
            found = next((s for s in self.available if s.id.lower() == sort.strip().lower()), None)
            if found is None:
                names = ", ".join(s.id for s in self.available)
                raise UnknownSort(sort.strip(), names)
            chosen = found
        return Page(
            offset=off, limit=lim, sort=chosen, sort_requested=requested, partial=partial, available=self.available
        )


def route_cap(request: Request) -> int | None:
    """The page-size cap of the route serving ``request`` (config.DEFAULT_LIMITS / ALEPHEE_LIMITS)."""
    ctx: AppContext = request.app.state.ctx
    route = request.scope.get("route")
    return ctx.settings.endpoint_limit(getattr(route, "name", None)).cap


def paging(sorts: Sequence[SortOption], default_sort: str | None = None) -> Callable[..., Page]:
    """Dependency factory for a list endpoint accepting ``sorts`` (first one is the default)."""
    spec = Paging.of(sorts, default_sort)
    docs = spec.docs()

    async def resolve(
        request: Request,
        offset: str | None = Query(None, description=docs["offset"]),
        limit: str | None = Query(None, description=docs["limit"]),
        sort: str | None = Query(None, description=docs["sort"]),
    ) -> Page:
        return spec.parse(route_cap(request), offset, limit, sort)

    return resolve


def paged_response(page: Page, total: int, results: Sequence[BaseModel] | Sequence[Any]) -> Response:
    """The envelope as a response: 206 when the requested limit was over the cap, else 200."""
    body = Paged[Any](
        Total=total,
        Paging=PagingInfo(Limit=page.limit, Offset=page.offset, Total=total),
        SortBy=SortRef(Id=page.sort.id, Name=page.sort.name),
        AvailableSorts=[SortRef(Id=s.id, Name=s.name) for s in page.available],
        Results=list(results),
    )
    return Response(
        content=body.model_dump_json(),
        status_code=206 if page.partial else 200,
        media_type=JSON_MEDIA,
    )


ID_SORT = SortOption("Id", "Order by internal ID asc")
DATE_CREATED_SORT = SortOption("dateCreated", "Order by date created asc")
