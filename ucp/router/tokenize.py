"""Field-aware tokenisation for BM25 (pure: no I/O, no state).

Identifiers are split on case changes, underscores, dashes, dots, slashes and
letter/digit boundaries (``getHTTPResponse_v2`` -> ``get http response v 2``),
everything is lower-cased, English stopwords are dropped and a light suffix
stemmer folds plurals and ``-ing``/``-ed`` forms.

A document is a bag of tokens from its fields; a field's weight is applied by
repeating its tokens (repetition is exactly a term-frequency weight, so it works
with plain BM25Okapi and keeps scores comparable with ``rank_bm25``).  The
weights in :data:`DEFAULT_FIELD_WEIGHTS` were chosen on the dev splits (toollens
train queries, a metatool tuning slice); see ``RETRIEVAL.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ucp.router.documents import ToolDoc

# A "run" is a maximal sequence of letters/digits (unicode aware, no underscore).
_RUN = re.compile(r"[^\W_]+")
# Inside an ASCII run: acronyms before a capitalised word, capitalised or lower
# words, remaining capitals, digits.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# A compact English stopword list (articles, pronouns, auxiliaries, prepositions,
# conversational filler that is frequent in natural-language tool queries).
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "may",
        "might",
        "must",
        "shall",
        "let",
        "lets",
        "please",
        "like",
        "want",
        "wants",
        "need",
        "needs",
        "using",
        "use",
        "used",
        "get",
        "gets",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "y",
        "o",
        "e",
        "g",
        "eg",
        "ie",
        "etc",
    ]
)


def split_identifier(text: str) -> list[str]:
    """Split text into lower-case word pieces (camelCase, snake_case, kebab-case, digits)."""
    out: list[str] = []
    for run in _RUN.findall(text):
        if run.isascii():
            out.extend(piece.lower() for piece in _CAMEL.findall(run))
        else:
            out.append(run.lower())
    return out


def stem(token: str) -> str:
    """A light suffix stemmer: plurals, ``-ing``, ``-ed`` (conservative, length-guarded)."""
    n = len(token)
    if n <= 3 or not token.isalpha():
        return token
    if token.endswith("ies") and n > 4:
        return token[:-3] + "y"
    if token.endswith("sses"):
        return token[:-2]
    if token.endswith("ing") and n > 5:
        return _undouble(token[:-3])
    if token.endswith("ed") and n > 4 and not token.endswith("eed"):
        return _undouble(token[:-2])
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _undouble(stem_: str) -> str:
    if len(stem_) > 2 and stem_[-1] == stem_[-2] and stem_[-1] not in "lsz":
        return stem_[:-1]
    return stem_


def tokenize(text: str, *, stemming: bool = True, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Tokens of free text or an identifier; used for queries and every document field."""
    tokens = [t for t in split_identifier(text) if t not in stopwords]
    if stemming:
        return [stem(t) for t in tokens]
    return tokens


@dataclass(frozen=True)
class FieldWeights:
    """How many times each field's tokens are repeated in a document's bag of words."""

    name: int = 2
    title: int = 1
    server: int = 1
    description: int = 1
    param_names: int = 2
    param_descriptions: int = 1
    tags: int = 1


DEFAULT_FIELD_WEIGHTS = FieldWeights()


def schema_params(schema: Mapping[str, Any], *, max_depth: int = 2) -> Iterator[tuple[str, str]]:
    """``(name, description)`` of every parameter in a JSON schema, nested ones included."""
    yield from _walk_schema(schema, max_depth)


def _walk_schema(schema: Any, depth: int) -> Iterator[tuple[str, str]]:
    if not isinstance(schema, Mapping) or depth < 0:
        return
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            desc = sub.get("description", "") if isinstance(sub, Mapping) else ""
            yield str(name), desc if isinstance(desc, str) else ""
            yield from _walk_schema(sub, depth - 1)
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from _walk_schema(items, depth)


def doc_fields(doc: ToolDoc) -> dict[str, list[str]]:
    """The texts of each field of a tool (before tokenisation)."""
    params = list(schema_params(doc.input_schema))
    return {
        "name": [doc.name],
        "title": [doc.title] if doc.title else [],
        "server": [doc.server] if doc.server else [],
        "description": [doc.description] if doc.description else [],
        "param_names": [p for p, _ in params],
        "param_descriptions": [d for _, d in params if d],
        "tags": list(doc.tags),
    }


def doc_tokens(
    doc: ToolDoc, weights: FieldWeights = DEFAULT_FIELD_WEIGHTS, *, stemming: bool = True
) -> list[str]:
    """The weighted bag of tokens BM25 indexes for one tool."""
    out: list[str] = []
    for field_name, texts in doc_fields(doc).items():
        repeat = getattr(weights, field_name)
        if repeat <= 0 or not texts:
            continue
        tokens = _concat(tokenize(t, stemming=stemming) for t in texts)
        out.extend(tokens * repeat)
    return out


def _concat(parts: Iterable[list[str]]) -> list[str]:
    out: list[str] = []
    for p in parts:
        out.extend(p)
    return out
