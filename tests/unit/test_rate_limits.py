"""Token buckets: a burst, then a steady rate; exact waits; bounded memory; safe across threads."""

from __future__ import annotations

import threading

import pytest

from psp.config import Settings
from psp.lib.errors import ConfigurationError
from psp.lib.rate_limits import TokenBuckets, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_capacity_at_once_then_refuses_with_the_wait_for_one_token() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=3, refill_per_second=2, clock=clock)

    taken = [buckets.take("key") for _ in range(3)]
    refused = buckets.take("key")

    assert taken == [0.0, 0.0, 0.0]
    assert refused == pytest.approx(0.5)


def test_a_bucket_earns_tokens_back_at_its_rate_and_never_beyond_its_capacity() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=2, refill_per_second=1, clock=clock)
    buckets.take("key")
    buckets.take("key")

    clock.now += 1.0
    assert buckets.take("key") == 0.0
    assert buckets.take("key") > 0

    clock.now += 3600  # an hour idle refills to the capacity, not to 3,600 tokens
    assert [buckets.take("key") for _ in range(3)][2] > 0


def test_buckets_are_independent_per_key() -> None:
    buckets = TokenBuckets(capacity=1, refill_per_second=1, clock=FakeClock())

    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_waiting_time_takes_nothing_and_creates_no_bucket() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=1, refill_per_second=0.5, clock=clock)

    assert buckets.wait_time("never-seen") == 0.0
    assert len(buckets) == 0
    buckets.take("key")
    assert buckets.wait_time("key") == pytest.approx(2.0)
    assert buckets.wait_time("key") == pytest.approx(2.0)
    clock.now += 2.0
    assert buckets.wait_time("key") == 0.0
    assert buckets.take("key") == 0.0


def test_the_number_of_buckets_is_bounded_by_forgetting_the_least_recently_used() -> None:
    buckets = TokenBuckets(capacity=1, refill_per_second=1, clock=FakeClock(), max_keys=3)
    for key in ("a", "b", "c"):
        buckets.take(key)
    buckets.take("a")  # a is now the most recently used

    buckets.take("d")

    assert len(buckets) == 3
    assert buckets.wait_time("a") > 0  # remembered
    assert buckets.wait_time("b") == 0.0  # forgotten: it comes back full


def test_threads_racing_for_one_bucket_take_exactly_its_capacity() -> None:
    buckets = TokenBuckets(capacity=500, refill_per_second=1e-9, clock=FakeClock())
    granted: list[int] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        granted.append(sum(1 for _ in range(200) if buckets.take("key") == 0.0))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(granted) == 500


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (0.5, 1), (1.0, 1), (1.2, 2), (29.5, 30)])
def test_retry_after_is_whole_seconds_rounded_up_and_never_zero(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1), (1, 0), (1, -1)])
def test_a_bucket_without_capacity_or_rate_is_refused(capacity: float, rate: float) -> None:
    with pytest.raises(ValueError, match="capacity"):
        TokenBuckets(capacity=capacity, refill_per_second=rate)


def test_limits_default_to_production_values_and_zero_disables_them() -> None:
    defaults = Settings.from_env({})
    disabled = Settings.from_env({"PSP_RATE_LIMIT_PER_KEY": "0", "PSP_AUTH_FAILURE_LIMIT": "0"})

    assert (defaults.rate_limit_per_key, defaults.rate_limit_burst) == (100, 200)
    assert (defaults.auth_failure_limit, defaults.auth_failure_refill_seconds) == (20, 30)
    assert (defaults.trusted_proxy_hops, defaults.max_json_depth) == (0, 32)
    assert (disabled.rate_limit_per_key, disabled.auth_failure_limit) == (0, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PSP_RATE_LIMIT_PER_KEY", "-1"),
        ("PSP_RATE_LIMIT_BURST", "0"),
        ("PSP_AUTH_FAILURE_LIMIT", "many"),
        ("PSP_AUTH_FAILURE_REFILL_SECONDS", "0"),
        ("PSP_TRUSTED_PROXY_HOPS", "-1"),
        ("PSP_MAX_JSON_DEPTH", "0"),
    ],
)
def test_a_bad_limit_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})
