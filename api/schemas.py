"""The app's request models, built from the records (`policy_search.records`).

Each model here is a pydantic class that holds only the rules a field cannot say alone
(a blank query, JSON booleans and numbers, which fields an article needs); `@fields_of` gives it
the fields of a wire record, with their descriptions and constraints (`min_length`, `pattern`, …)
read from the record's field metadata, so the spec and the validation come from the one record.

Responses need no model: they are the records themselves, which the searcher returns and FastAPI
documents and serialises (dataclasses).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict, JsonValue
from pydantic.fields import FieldInfo

from policy_search import records

__all__ = [
    "ArticleInput",
    "ArticleReplacement",
    "CiteQuery",
    "ExportQuery",
    "SearchQuery",
    "SearchRequest",
    "fields_of",
]

_M = TypeVar("_M", bound=BaseModel)
# Rules on a string: for a field whose metadata has `items`, they apply to its string form.
_STRING_RULES = ("min_length", "max_length", "pattern")


def fields_of(
    record: type,
    *,
    strict: Sequence[str] = (),
    item_schemas: Mapping[str, Callable[[dict[str, Any]], None]] | None = None,
) -> Callable[[type[_M]], type[_M]]:
    """Give a model class the fields of the wire dataclass `record` (`strict`: no coercion;
    `item_schemas`: for a list field, a function that completes its items' spec when the spec
    is made, for what the standard-library record cannot hold)."""

    def build(rules: type[_M]) -> type[_M]:
        hints = typing.get_type_hints(record)
        extra = item_schemas or {}
        definitions: dict[str, Any] = {
            f.name: _definition(f, hints[f.name], strict=f.name in strict, items=extra.get(f.name))
            for f in dataclasses.fields(record)
        }
        return create_model(
            rules.__name__, __base__=rules, __module__=rules.__module__,
            __doc__=record.__doc__, **definitions,
        )  # fmt: skip

    return build


def _definition(
    f: dataclasses.Field[Any], hint: Any, *, strict: bool, items: Callable[..., None] | None
) -> tuple[Any, FieldInfo]:
    """A pydantic field definition (type, FieldInfo) from a wire field and its metadata."""
    rules = dict(f.metadata)
    if items is not None:
        rules["items"] = {**rules.get("items", {}), "json_schema_extra": items}
    if "max_items" in rules:  # pydantic's name for a list's length is max_length
        rules["max_length"] = rules.pop("max_items")
    if (items := rules.pop("items", None)) is not None:
        string = {name: rules.pop(name) for name in _STRING_RULES if name in rules}
        hint = _each(hint, items, string)
    if strict:
        hint = Annotated[hint, Strict()]
    if f.default_factory is not dataclasses.MISSING:
        rules["default_factory"] = f.default_factory
        info: FieldInfo = Field(**rules)
    else:
        info = Field(... if f.default is dataclasses.MISSING else f.default, **rules)
    return hint, info


def _each(hint: Any, items: dict[str, Any], string: dict[str, Any]) -> Any:
    """A union of a list and a string, with `items` on the list's items, `string` on the string."""
    members = []
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for member in typing.get_args(hint) if union else (hint,):
        if typing.get_origin(member) in (list, Sequence):
            member = types.GenericAlias(list, _constrained(typing.get_args(member)[0], items))
        elif member is str:
            member = _constrained(str, string)
        members.append(member)
    if len(members) == 1:
        return members[0]
    return typing.Union[tuple(members)]  # noqa: UP007 (a union built at run time)


def _constrained(hint: Any, rules: dict[str, Any]) -> Any:
    """`hint` with pydantic's `Field` rules on it."""
    return Annotated[hint, Field(**rules)]


# -- requests ----------------------------------------------------------------------------


class _Request(BaseModel):
    """What every request model shares: an unknown field is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class _Query(_Request):
    """A request with a query `q` (a search, an alert): blank is an error."""

    @field_validator("q", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty: give some words to search for")
        return value


def json_number(value: object) -> object:
    """A JSON body's number: pydantic would read true as 1 and "5" as 5; in JSON those are not
    numbers (a validator of the fields that must be, mode="before")."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


def _countries(schema: dict[str, Any]) -> None:
    """The spec lists the countries a query may name (codes and English names, read in any
    case): loaded when the spec is made, not when the app is imported."""
    from policy_search.index.analysis.countries import country_values

    schema["enum"] = country_values()


_ITEMS = {"country": _countries}


@fields_of(records.SearchRequest, item_schemas=_ITEMS)
class SearchQuery(_Query):
    """GET /search's query parameters."""

    @field_validator("facets", mode="before", check_fields=False)
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # `facets=year,country` says what `facets=year&facets=country` says.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [part.strip() for v in value for part in v.split(",") if part.strip()]
        return value

    @field_validator("cursor", mode="before", check_fields=False)
    @classmethod
    def _cursor_length(cls, value: object) -> object:
        # Longer than any cursor the server makes: say what to do, not only the limit.
        if isinstance(value, str) and not 0 < len(value) <= records.MAX_CURSOR:
            raise ValueError("the cursor is malformed: start the search again without the cursor")
        return value

    def record(self) -> records.SearchRequest:
        """The validated query as its wire record."""
        return records.SearchRequest(**self.model_dump())


EXPORT_FORMAT = Field(
    None,
    description="Instead of a JSON page, the whole result set (from the first hit, up to the "
    "server's export limit; `k` and `offset` aside) as a file to download: csv or jsonl (a row "
    "per passage), bibtex or ris (an entry per article, in rank order).",
)


class ExportQuery(SearchQuery):
    """GET /search's query parameters: the query, and `format` for an export."""

    format: records.ExportFormat | None = EXPORT_FORMAT

    def record(self) -> records.SearchRequest:
        """The validated query as its wire record (without `format`, which is not the query's)."""
        return records.SearchRequest(**self.model_dump(exclude={"format"}))


@fields_of(records.CiteRequest)
class CiteQuery(_Request):
    """GET /articles/{id}/cite's query parameters."""

    def record(self) -> records.CiteRequest:
        """The validated parameters as their wire record."""
        return records.CiteRequest(**self.model_dump())


@fields_of(records.SearchRequest, strict=("explain", "group"), item_schemas=_ITEMS)
class SearchRequest(SearchQuery):
    """POST /search's JSON body: as the query parameters, but true and false are JSON booleans.

    A URL's query string carries `true` as text; a JSON body that says `"group": 0` is wrong.
    """

    _json_number = field_validator("k", "offset", "min_score", "min_confidence", mode="before")(
        json_number
    )


def _null(*names: str) -> JsonDict:
    return {name: {"type": "null"} for name in names}


# The rules of `records.ArticleInput.incomplete` and `.unnamed`, for the spec, so that its readers
# (schemathesis among them) call valid exactly what the server accepts: a `not` of the ways to
# break them. A root `anyOf` of the ways to meet them would say the same, but client generators
# read a root anyOf as a union of models and give up on the schema.
_INCOMPLETE: list[JsonValue] = [
    {"properties": _null("title", "text", "url")},  # nothing to store, no page to fetch
    {"required": ["title"], "properties": {"title": {"type": "string"}, **_null("text")}},
    {"required": ["text"], "properties": {"text": {"type": "string"}, **_null("title")}},
]
# A new article with no id, given or derived.
_UNNAMED: JsonDict = {"properties": _null("id", "url")}


class _ArticleRules(_Request):
    """An article needs a title and a text, unless it is only a url to fetch."""

    def record(self) -> records.ArticleInput:
        """The validated article as its wire record."""
        return records.ArticleInput(**self.model_dump())

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if (problem := self.record().incomplete()) is not None:
            raise ValueError(problem)
        return self


@fields_of(records.ArticleReplacement)
class ArticleReplacement(_ArticleRules):
    """PUT /articles/{id}'s body."""

    model_config = ConfigDict(json_schema_extra={"not": {"anyOf": _INCOMPLETE}})


@fields_of(records.ArticleInput)
class ArticleInput(_ArticleRules):
    """POST /articles' body: an id is also needed, given or derived from its url."""

    model_config = ConfigDict(json_schema_extra={"not": {"anyOf": [*_INCOMPLETE, _UNNAMED]}})

    @model_validator(mode="after")
    def _named(self) -> Self:
        if (problem := self.record().unnamed()) is not None:
            raise ValueError(problem)
        return self
