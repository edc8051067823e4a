"""Tokenisation: identifier splitting, stopwords, light stemming, field weighting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ucp.router.documents import ToolDoc
from ucp.router.tokenize import (
    STOPWORDS,
    FieldWeights,
    doc_tokens,
    schema_params,
    split_identifier,
    stem,
    tokenize,
)


def test_split_identifier_handles_case_underscore_dash_and_digits() -> None:
    assert split_identifier("getCurrentTime") == ["get", "current", "time"]
    assert split_identifier("get_current_time") == ["get", "current", "time"]
    assert split_identifier("get-current-time") == ["get", "current", "time"]
    assert split_identifier("HTTPServerError") == ["http", "server", "error"]
    assert split_identifier("parseJSON2XML") == ["parse", "json", "2", "xml"]
    assert split_identifier("/v1/nutrition") == ["v", "1", "nutrition"]
    assert split_identifier("time__get_current_time") == ["time", "get", "current", "time"]


def test_split_identifier_keeps_non_ascii_words_whole() -> None:
    assert split_identifier("Café Crème") == ["café", "crème"]
    assert split_identifier("日本語 search") == ["日本語", "search"]


def test_tokenize_drops_stopwords_and_lowercases() -> None:
    assert tokenize("Can I find the Weather in Paris?") == ["find", "weather", "paris"]
    assert tokenize("the of and", stemming=False) == []


def test_light_stemmer_folds_common_inflections() -> None:
    pairs = {
        "papers": "paper",
        "queries": "query",
        "searching": "search",
        "searched": "search",
        "running": "run",
        "classes": "class",
        "status": "status",
        "analysis": "analysis",
        "bus": "bus",
        "api": "api",
    }
    for word, expected in pairs.items():
        assert stem(word) == expected, word
    # query and document forms meet
    assert tokenize("search papers") == tokenize("searching paper")


def test_schema_params_walks_nested_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "options": {
                "type": "object",
                "properties": {"units": {"type": "string", "description": "metric or imperial"}},
            },
            "tags": {"type": "array", "items": {"type": "object", "properties": {"label": {}}}},
        },
    }
    assert list(schema_params(schema)) == [
        ("city", "City name"),
        ("options", ""),
        ("units", "metric or imperial"),
        ("tags", ""),
        ("label", ""),
    ]
    assert list(schema_params({"properties": "not a dict"})) == []


def _doc() -> ToolDoc:
    return ToolDoc(
        key="weather__getForecast",
        name="getForecast",
        server="weather",
        description="Daily forecast",
        input_schema={"properties": {"zipCode": {"type": "string", "description": "US postal code"}}},
        tags=("travel",),
    )


def test_doc_tokens_weight_fields_by_repetition() -> None:
    weights = FieldWeights(name=3, server=1, description=1, param_names=2, param_descriptions=1, tags=1)
    tokens = doc_tokens(_doc(), weights)
    assert tokens.count("forecast") == 3 + 1  # name x3 + description x1
    assert tokens.count("weather") == 1  # server
    assert tokens.count("zip") == 2 and tokens.count("code") == 2 + 1  # param name x2, param description
    assert tokens.count("postal") == 1
    assert tokens.count("travel") == 1
    assert tokens.count("daily") == 1


def test_doc_tokens_zero_weight_drops_a_field() -> None:
    tokens = doc_tokens(_doc(), FieldWeights(server=0, tags=0))
    assert "weather" not in tokens and "travel" not in tokens


@given(st.text(max_size=60))
def test_tokens_are_lowercase_nonempty_and_not_stopwords(text: str) -> None:
    for token in tokenize(text, stemming=False):
        assert token and token == token.lower() and token not in STOPWORDS


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_splitting_is_idempotent(text: str) -> None:
    pieces = split_identifier(text)
    assert split_identifier(" ".join(pieces)) == pieces
