"""The pre-parse depth check agrees with the depth of what ``json.loads`` builds, whatever the text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from psp.transporters.rest.middlewares import json_nesting_exceeds

# Strings full of brackets, quotes and backslashes: what could fool a scanner that ignores strings.
tricky_text = st.text(st.sampled_from('[]{}"\\ab/'), max_size=12)
values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@given(values, st.integers(min_value=1, max_value=8))
def test_the_scanner_finds_exactly_the_nesting_the_parser_builds(value: Any, limit: int) -> None:
    raw = json.dumps(value).encode()

    assert json_nesting_exceeds(raw, limit) == (depth(value) > limit)


def test_a_body_with_few_brackets_is_not_walked_at_all() -> None:
    # The fast path: no more brackets than the limit cannot nest deeper than it.
    assert not json_nesting_exceeds(b'{"a": [1, 2, {"b": "x"}]}', 3)
    assert json_nesting_exceeds(b'{"a": [1, 2, {"b": "x"}]}', 2)
