"""The embedded store's expiry, on a clock the test moves."""
from __future__ import annotations

from collections.abc import Sized

from app.jobs.memory_store import MemoryJobStore
from app.jobs.model import COMPLETED, PENDING, JobRecord


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_finished_job_expires_ttl_after_it_finished():
    clock = Clock()
    store = MemoryJobStore(ttl_seconds=10, max_jobs=100, clock=clock)
    assert store.create(JobRecord(job_id="a" * 12, algorithm="PrimeChecker", params={"number": 7}))
    clock.now += 50  # pending jobs do not expire
    assert store.transition("a" * 12, {PENDING}, status=COMPLETED).status == COMPLETED
    clock.now += 9.9
    assert store.get("a" * 12) is not None
    clock.now += 0.2
    assert store.sweep() == 1
    assert store.get("a" * 12) is None and len(store) == 0


def test_a_remembered_key_expires_and_a_renewed_one_survives_the_old_deadline():
    clock = Clock()
    store = MemoryJobStore(ttl_seconds=10, max_jobs=100, clock=clock)
    assert store.remember("k", {"job_id": "first"}, 10) is None
    assert store.remember("k", {"job_id": "second"}, 10) == {"job_id": "first"}
    clock.now += 11
    assert store.remember("k", {"job_id": "third"}, 10) is None  # expired: a new claim
    clock.now += 1
    store.sweep()  # passes the first claim's deadline, which must not drop the new one
    assert store.remember("k", {"job_id": "fourth"}, 10) == {"job_id": "third"}
    store.forget("k")
    assert store.remember("k", {"job_id": "fifth"}, 10) is None


def container_sizes(store: MemoryJobStore) -> dict[str, int]:
    """The length of every container the store holds: where a leak would show."""
    return {name: len(value) for name, value in vars(store).items()
            if isinstance(value, Sized) and not isinstance(value, (str, bytes))}


def test_a_forgotten_key_leaves_nothing_behind():
    """What a refused request with an Idempotency-Key does: remember, then forget."""
    store = MemoryJobStore(ttl_seconds=3600, max_jobs=100, clock=Clock())
    before = container_sizes(store)
    for key in [f"distinct-{n}" for n in range(500)] + ["the-same-one"] * 500:
        assert store.remember(key, {"job_id": "x"}, 3600) is None
        store.forget(key)
    assert container_sizes(store) == before
