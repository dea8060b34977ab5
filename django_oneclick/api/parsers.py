"""The API's JSON parser: DRF's, with what a hostile body can do to it turned into a 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """A body nested deeper than Python can parse (a RecursionError) is a 400 like any other
    malformed JSON, never a server error; depth and size are then bounded by the core's rules
    (``orders.validation``)."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
