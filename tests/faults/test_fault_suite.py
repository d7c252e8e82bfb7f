"""The short fault run inside ``make test``: one fault of every kind under load, and no invariant broken.

The SQS backend is the one with every kind of fault (the relay and the SQS endpoint exist only there);
``make test-faults`` runs both backends at full size. ``PSP_FAULTS_*`` variables resize this run too.
"""

from __future__ import annotations

from tests.faults.faults import kinds_for
from tests.faults.run import RunConfig, report, run


def test_a_short_fault_run_breaks_no_invariant_and_injects_every_kind_of_fault() -> None:
    config = RunConfig.from_env(backends=("sqs",), transactions=1000, faults=len(kinds_for("sqs")))

    results = run(config)

    print(report(config, results))
    (result,) = results
    assert {fault.kind for fault in result.faults.faults} == set(kinds_for("sqs"))
    assert sum(1 for payment in result.load.payments if payment.status is not None) >= config.transactions
    assert result.violations.total == 0, "\n".join(result.violations.lines())
