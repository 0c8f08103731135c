"""app/web/json_body.py on its own: what a body's numbers become."""
from __future__ import annotations

import tracemalloc

from app.web.json_body import loads


def peak_bytes_of_loading(text: str) -> int:
    """The most memory `loads(text)` held at once, tracing on or off before."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loads(text)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


def test_short_numbers_do_not_grow_into_long_integers():
    """`1e4299` is six bytes; as an int it would be 4300 digits. A body of them may take
    no more memory than a body as long made of empty objects."""
    count = 2000
    numbers = "[" + ",".join(["1e4299"] * count) + "]"
    objects = "[" + ",".join(["{}"] * (count * 7 // 3)) + "]"  # as long
    assert peak_bytes_of_loading(numbers) <= 2 * peak_bytes_of_loading(objects)
