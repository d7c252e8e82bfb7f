"""The webhook services over the in-memory fakes: endpoints, rotation, fan-out, retries, giving up."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from psp.domain.events import PAYABLE_CREATED, TRANSACTION_APPROVED
from psp.domain.merchants import Principal
from psp.domain.pagination import PageRequest
from psp.domain.transactions import PaymentMethod
from psp.domain.webhooks import DeliveryStatus, EndpointStatus, RetrySchedule, verify_signature
from psp.lib.errors import NotFound, ValidationFailed
from psp.repositories.memory import InMemoryStore
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.services.transactions import NewTransaction, create_transaction
from psp.webhooks import WebhookVerificationError
from tests.unit.conftest import onboard, principal_of
from tests.unit.fakes import FrozenClock, RecordingAcquirer, ScriptedSender, StaticResolver

SCHEDULE = RetrySchedule(rng=random.Random(3))
LIVE_URL = "https://shop.example.com/hooks"


def new_endpoint(url: str = LIVE_URL, events: tuple[str, ...] = ("*",)) -> service.NewEndpoint:
    return service.NewEndpoint(url=url, enabled_events=events, description="orders")


def approve(store: InMemoryStore, principal: Principal, clock: FrozenClock) -> None:
    create_transaction(
        NewTransaction(
            amount=2500,
            currency="BRL",
            description="order",
            payment_method=PaymentMethod.CREDIT_CARD,
            installments=1,
            card_holder_name="Ada Lovelace",
            card_expiration_date="12/35",
            card_number="4111111111111111",
            card_verification_code="123",
        ),
        principal,
        uow=store.uow(),
        acquirer=RecordingAcquirer(),
        clock=clock,
        fingerprint_key=b"k" * 32,
    )


def deliver_due(store: InMemoryStore, clock: FrozenClock, sender: ScriptedSender) -> int:
    due = service.claim_due(10, 21, uow=store.uow(), clock=clock)
    for item in due:
        service.attempt_delivery(item, sender=sender, uow_factory=store.uow, clock=clock, schedule=SCHEDULE)
    return len(due)


def fan_out_everything(store: InMemoryStore, clock: FrozenClock) -> int:
    return service.fan_out([event.id for event in store.events], uow=store.uow(), clock=clock)


def test_a_live_endpoint_whose_host_resolves_to_a_private_address_is_refused(
    store: InMemoryStore, clock: FrozenClock, onboarded: Onboarded
) -> None:
    live = replace(principal_of(onboarded), mode="live")
    with pytest.raises(ValidationFailed) as refused:
        service.create_endpoint(
            live, new_endpoint(), uow=store.uow(), resolver=StaticResolver(["10.0.0.7"]), clock=clock
        )
    assert refused.value.code == "url_forbidden_address"


def test_a_live_endpoint_whose_host_does_not_resolve_in_time_is_refused(
    store: InMemoryStore, clock: FrozenClock, onboarded: Onboarded
) -> None:
    live = replace(principal_of(onboarded), mode="live")
    with pytest.raises(ValidationFailed) as refused:
        service.create_endpoint(
            live, new_endpoint(), uow=store.uow(), resolver=StaticResolver(None), clock=clock
        )
    assert refused.value.code == "url_unresolvable"


def test_a_test_mode_endpoint_is_registered_without_asking_dns_and_gets_its_own_secret(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    resolver = StaticResolver()
    first = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=resolver, clock=clock
    )
    second = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=resolver, clock=clock
    )

    assert resolver.asked == []
    assert first.secret.startswith("whsec_")
    assert first.secret != second.secret
    assert service.get_endpoint(principal, first.id, uow=store.uow()) == first


def test_another_merchants_endpoints_events_and_deliveries_are_not_found(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    approve(store, principal, clock)
    [event] = store.events
    intruder = principal_of(onboard(store, clock, "Globex"))

    for attempt in (
        lambda: service.get_endpoint(intruder, endpoint.id, uow=store.uow()),
        lambda: service.delete_endpoint(intruder, endpoint.id, uow=store.uow(), clock=clock),
        lambda: service.rotate_secret(intruder, endpoint.id, timedelta(0), uow=store.uow(), clock=clock),
        lambda: service.get_event(intruder, event.id, uow=store.uow()),
        lambda: service.list_deliveries(intruder, event.id, PageRequest(), uow=store.uow()),
        lambda: service.redeliver_event(intruder, event.id, uow=store.uow(), clock=clock),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert service.list_events(intruder, None, PageRequest(), uow=store.uow()).items == []
    assert service.list_endpoints(intruder, PageRequest(), uow=store.uow()).items == []


def test_an_event_fans_out_to_each_endpoint_wanting_it_once_however_often_it_is_fanned_out(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    resolver = StaticResolver()
    service.create_endpoint(principal, new_endpoint(), uow=store.uow(), resolver=resolver, clock=clock)
    service.create_endpoint(
        principal, new_endpoint(events=(PAYABLE_CREATED,)), uow=store.uow(), resolver=resolver, clock=clock
    )
    service.create_endpoint(
        principal,
        new_endpoint(events=(TRANSACTION_APPROVED,)),
        uow=store.uow(),
        resolver=resolver,
        clock=clock,
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)

    assert fan_out_everything(store, clock) == 2
    assert fan_out_everything(store, clock) == 0


def test_a_failed_attempt_is_retried_later_with_the_same_webhook_id_and_both_are_logged(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)
    fan_out_everything(store, clock)
    sender = ScriptedSender(statuses=[None, 200])

    assert deliver_due(store, clock, sender) == 1
    assert deliver_due(store, clock, sender) == 0  # not due before its backoff
    clock.advance(minutes=2)
    assert deliver_due(store, clock, sender) == 1

    [event] = store.events
    [delivery] = service.list_deliveries(principal, event.id, PageRequest(), uow=store.uow()).items
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in delivery.attempt_log] == [None, 200]
    assert [a.error for a in delivery.attempt_log] == ["timeout", None]
    first, second = (headers for _, headers, _ in sender.sent)
    assert first["webhook-id"] == second["webhook-id"] == str(event.id)
    body = sender.sent[1][2]
    assert json.loads(body)["id"] == str(event.id)
    now = clock().timestamp()
    assert verify_signature(body, second, endpoint.secret, 300, now) == body


def test_after_three_days_of_failures_the_delivery_fails_and_the_endpoint_is_disabled(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)
    fan_out_everything(store, clock)
    sender = ScriptedSender(default=500)

    attempts = 0
    for _ in range(24 * 4):  # every hour for four days
        attempts += deliver_due(store, clock, sender)
        clock.advance(hours=1)

    [event] = store.events
    [delivery] = service.list_deliveries(principal, event.id, PageRequest(), uow=store.uow()).items
    assert delivery.status is DeliveryStatus.FAILED
    assert 7 <= attempts <= 10
    disabled = service.get_endpoint(principal, endpoint.id, uow=store.uow())
    assert disabled.status is EndpointStatus.DISABLED
    assert disabled.disabled_reason == service.DISABLED_FAILING


def test_a_success_ends_an_endpoints_failing_streak(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)
    fan_out_everything(store, clock)
    deliver_due(store, clock, ScriptedSender(default=500))
    assert service.get_endpoint(principal, endpoint.id, uow=store.uow()).failing_since is not None

    clock.advance(hours=1)
    deliver_due(store, clock, ScriptedSender(default=204))

    assert service.get_endpoint(principal, endpoint.id, uow=store.uow()).failing_since is None


def test_during_a_rotations_overlap_deliveries_verify_with_either_secret_and_after_it_only_the_new(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    rotated = service.rotate_secret(principal, endpoint.id, timedelta(hours=1), uow=store.uow(), clock=clock)
    assert rotated.secret != endpoint.secret
    clock.advance(seconds=1)
    approve(store, principal, clock)
    sender = ScriptedSender(statuses=[500])
    fan_out_everything(store, clock)

    deliver_due(store, clock, sender)  # within the overlap: two signatures
    _, during, body = sender.sent[0]
    for secret in (endpoint.secret, rotated.secret):
        assert verify_signature(body, during, secret, 300, clock().timestamp()) == body

    clock.advance(hours=2)
    deliver_due(store, clock, sender)  # after it: the new secret only
    _, after, body = sender.sent[1]
    assert verify_signature(body, after, rotated.secret, 300, clock().timestamp()) == body
    with pytest.raises(WebhookVerificationError):
        verify_signature(body, after, endpoint.secret, 300, clock().timestamp())


def test_redelivering_since_a_moment_schedules_every_later_event_again(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)
    clock.advance(seconds=1)
    since = clock()
    approve(store, principal, clock)
    approve(store, principal, clock)
    fan_out_everything(store, clock)
    deliver_due(store, clock, ScriptedSender())

    scheduled = service.redeliver_since(
        since, endpoint=(principal.merchant_id, endpoint.id), uow_factory=store.uow, clock=clock
    )

    assert scheduled == 2
    assert deliver_due(store, clock, ScriptedSender()) == 2


def test_a_deleted_endpoint_gets_nothing_more_and_its_pending_deliveries_fail(
    store: InMemoryStore, clock: FrozenClock, principal: Principal
) -> None:
    endpoint = service.create_endpoint(
        principal, new_endpoint(), uow=store.uow(), resolver=StaticResolver(), clock=clock
    )
    clock.advance(seconds=1)
    approve(store, principal, clock)
    fan_out_everything(store, clock)

    service.delete_endpoint(principal, endpoint.id, uow=store.uow(), clock=clock)

    assert deliver_due(store, clock, ScriptedSender()) == 0
    [event] = store.events
    [delivery] = service.list_deliveries(principal, event.id, PageRequest(), uow=store.uow()).items
    assert delivery.status is DeliveryStatus.FAILED
    with pytest.raises(NotFound):
        service.get_endpoint(principal, endpoint.id, uow=store.uow())
