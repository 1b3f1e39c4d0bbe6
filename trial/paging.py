"""Pagination, the same everywhere (docs/api.md): pages of 50 with counts and page links on the
pages; `{"count", "next", "previous", "results"}` with `?page=` and `?page_size=` (at most 100,
default 50) in the API. A page never builds or renders more than one page of rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# No list has a million pages; a larger ?page= would overflow SQL's OFFSET (bigint).
MAX_PAGE_NUMBER = 1_000_000


class TrialPagination(PageNumberPagination):
    """DRF's page-number pagination with the contract's sizes. A view sets it as its
    `pagination_class` (which also documents the envelope and parameters in the schema) and
    answers with `paginated(...)`."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


def paginated(
    view: APIView,
    request: Request,
    items: Sequence[Any] | Any,
    present: Callable[[Iterable[Any]], Any],
) -> Response:
    """One page of `items` (a queryset is sliced in SQL) as the contract's envelope.
    `present` turns the page's items into the `results` list (one call for the whole page,
    so it can fetch what the page needs in one query). An unknown page answers 404."""
    paginator = TrialPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    return paginator.get_paginated_response(present(page or []))


class Window:
    # Not a Sequence: its count() is the paginator's (no argument), not Sequence.count(value).
    """A list of `count` items of which one page, fetched ahead (e.g. in one SQL statement with
    its count), is held: for `paginated` when the rows do not come from a queryset. Slicing
    the held page returns it; any other slice is fetched with `fetch(offset, limit)`."""

    def __init__(
        self,
        rows: list[Any],
        *,
        count: int,
        offset: int,
        fetch: Callable[[int, int], list[Any]],
    ) -> None:
        self.rows, self._count, self.offset, self.fetch = rows, count, offset, fetch

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            raise TypeError("A Window is sliced, one page at a time.")
        start = index.start or 0
        stop = self._count if index.stop is None else min(index.stop, self._count)
        if start == self.offset and stop - start <= len(self.rows):
            return self.rows[: stop - start]
        return self.fetch(start, max(0, stop - start))


def api_page_request(request: Request) -> tuple[int, int]:
    """(offset, limit) of the page a `paginated` answer will show, to fetch it ahead."""
    size = TrialPagination().get_page_size(request) or PAGE_SIZE
    try:
        number = min(max(1, int(request.query_params.get("page", "1"))), MAX_PAGE_NUMBER)
    except ValueError:
        number = 1
    return (number - 1) * size, size


def page_number(request: HttpRequest) -> int:
    """`?page=` as a number from 1; anything else is the first page."""
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE_NUMBER)
    except ValueError:
        return 1


@dataclass(frozen=True)
class Pager:
    """What templates/includes/pager.html shows: the count, "page N of M" and links that keep
    the other filters of the address."""

    number: int
    num_pages: int
    count: int
    first_index: int  # position of the page's first row, from 1 (0 when empty)
    last_index: int
    links: dict[str, str]  # first / previous / next / last -> query string

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1


def pager(
    request: HttpRequest,
    *,
    number: int,
    count: int,
    per_page: int = PAGE_SIZE,
    param: str = "page",
) -> Pager:
    """The pager of a list; `param` names its page parameter (a page with two lists gives
    the second another name)."""
    num_pages = max(1, -(-count // per_page))
    number = min(max(1, number), num_pages)

    def link(to: int) -> str:
        query = request.GET.copy()
        query[param] = str(to)
        return "?" + query.urlencode()

    links: dict[str, str] = {}
    if number > 1:
        links["first"] = link(1)
        links["previous"] = link(number - 1)
    if number < num_pages:
        links["next"] = link(number + 1)
        links["last"] = link(num_pages)
    first = (number - 1) * per_page + 1 if count else 0
    return Pager(
        number=number,
        num_pages=num_pages,
        count=count,
        first_index=first,
        last_index=min(count, number * per_page),
        links=links,
    )


def paginate(
    request: HttpRequest, items: Any, per_page: int = PAGE_SIZE, param: str = "page"
) -> tuple[Page, Pager]:
    """One page of a queryset (one COUNT and one sliced SELECT) or list, and its pager."""
    page = Paginator(items, per_page).get_page(request.GET.get(param))
    return page, pager(
        request, number=page.number, count=page.paginator.count, per_page=per_page, param=param
    )
