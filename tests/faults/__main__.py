"""``python -m tests.faults`` (``make test-faults``): the full fault suite, with its report.

Sizes come from options or ``PSP_FAULTS_*`` variables; exits 1 when any invariant is violated.
"""

from __future__ import annotations

import argparse
import sys

from tests.faults.run import RunConfig, report, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--backends", help="comma-separated: postgres,sqs")
    parser.add_argument("--transactions", type=int, help="payments in total, split between the backends")
    parser.add_argument("--faults", type=int, help="faults in total, split between the backends")
    parser.add_argument("--clients", type=int, help="concurrent client threads")
    parser.add_argument("--seed", type=int, help="replay a run's random choices")
    parser.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    arguments = parser.parse_args(argv)
    overrides: dict[str, object] = {
        name: value
        for name, value in vars(arguments).items()
        if value is not None and name not in ("backends", "keep")
    }
    if arguments.backends:
        overrides["backends"] = tuple(arguments.backends.split(","))
    overrides["keep"] = arguments.keep
    config = RunConfig.from_env(**overrides)
    print(f"psp fault suite: seed {config.seed}, backends {', '.join(config.backends)}", flush=True)
    results = run(config)
    print(report(config, results), flush=True)
    return 1 if any(result.violations.total for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
