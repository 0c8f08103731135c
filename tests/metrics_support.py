"""Reading /metrics in tests: parse, pick a sample, and measure what a block of code added."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from prometheus_client.parser import text_string_to_metric_families

from tests.transports import Transport


def parse(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def scrape(http: Transport) -> dict:
    reply = http.get("/metrics")
    assert reply.status == 200
    assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
    return parse(reply.text)


def sample(families: dict, sample_name: str, **labels: str) -> float:
    """The value of one sample, by its full name (`..._total`, `..._count`); 0 if unwritten."""
    for family in families.values():
        for s in family.samples:
            if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


@contextmanager
def scrape_delta(http: Transport, sample_name: str) -> Iterator[Callable[..., float]]:
    """`with scrape_delta(http, name) as delta:` ... then `delta(**labels)` is after - before."""
    before = scrape(http)
    after: dict = {}

    def delta(**labels: str) -> float:
        return sample(after, sample_name, **labels) - sample(before, sample_name, **labels)

    yield delta
    after.update(scrape(http))
