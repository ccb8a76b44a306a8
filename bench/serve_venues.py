"""Serve the loopback stand-in venues until interrupted, some of them failing, to look at the
live window's failure states by hand:

    python -m bench.serve_venues --fail bybit okx --env-file /tmp/venues.env
    env $(cat /tmp/venues.env) python main.py

Each failing venue answers HTTP 503 to every request (as an overloaded venue does). Nothing here
is a market price (bench/fake_venues.py).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

from bench.fake_venues import FakeVenues
from bench.soak import VENUE_PATHS


class FailingVenues(FakeVenues):
    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self.prefixes = tuple(p for venue in failing for p in VENUE_PATHS[venue])

    def _app(self, environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO", "").startswith(self.prefixes or ("\0",)):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"Service Unavailable"]
        return super()._app(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fail", nargs="*", choices=sorted(VENUE_PATHS), default=[])
    parser.add_argument("--env-file", help="write the ROTOR_*_URL variables here")
    args = parser.parse_args()
    with FailingVenues(set(args.fail)) as venues:
        lines = "\n".join(f"{k}={v}" for k, v in venues.env().items())
        if args.env_file:
            with open(args.env_file, "w") as fh:
                fh.write(lines + "\n")
        print(lines, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
