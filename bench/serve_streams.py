"""Serve the loopback venue websockets until interrupted, to watch the live window by hand:

    python -m bench.serve_streams --rate bybit=50 --env-file /tmp/streams.env
    env $(cat /tmp/streams.env) python main.py

Faults can be switched on a running server from its prompt (one per line, e.g. `stall okx`,
`close bybit 4004`, `burst bybit 2000 10`, `reject deribit`, `malformed okx 3`; `help` lists them).
Nothing here is a market price (bench/fake_streams.py).
"""

from __future__ import annotations

import argparse
import sys
import threading

from bench.fake_streams import NAMES, FakeStreamVenues

COMMANDS = """\
stall NAME | unstall NAME | close NAME [CODE [REASON]] | cut NAME (mid-message)
malformed NAME [N] | oversized NAME [BYTES] | reject NAME | accept NAME
burst NAME RATE SECONDS | flood NAME SECONDS [RATE] | rate NAME RATE | announce NAME
skipsnapshot | snapshot | status | quit"""


def _rate(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    if name not in NAMES:
        raise argparse.ArgumentTypeError(f"unknown stream {name!r} (one of {', '.join(NAMES)})")
    return name, float(value)


def run_command(fake: FakeStreamVenues, line: str) -> str:
    """One prompt line applied to `fake`; returns what to print."""
    words = line.split()
    if not words:
        return ""
    cmd, args = words[0], words[1:]
    if cmd == "help":
        return COMMANDS
    if cmd == "status":
        return "\n".join(f"{n}: {fake.open_connections(n)} open, {fake.connects[n]} connects, "
                         f"{fake.sent[n]} frames sent" for n in NAMES)
    if cmd in ("skipsnapshot", "snapshot"):
        fake.skip_snapshot("bybit", cmd == "skipsnapshot")
        return "ok"
    if not args or args[0] not in NAMES:
        return f"need a stream name: {', '.join(NAMES)}"
    name, rest = args[0], args[1:]
    actions = {
        "stall": lambda: fake.stall(name, True),
        "unstall": lambda: fake.stall(name, False),
        "close": lambda: fake.close(name, int(rest[0]) if rest else 1001, " ".join(rest[1:])),
        "cut": lambda: fake.disconnect_mid_message(name),
        "malformed": lambda: fake.malformed(name, int(rest[0]) if rest else 1),
        "oversized": lambda: (fake.oversized(name, int(rest[0])) if rest
                              else fake.oversized(name)),
        "reject": lambda: fake.reject_subscription(name, True),
        "accept": lambda: fake.reject_subscription(name, False),
        "burst": lambda: fake.burst(name, float(rest[0]), float(rest[1])),
        "flood": lambda: fake.flood(name, float(rest[0]),
                                    float(rest[1]) if len(rest) > 1 else None),
        "rate": lambda: fake.set_rate(name, float(rest[0])),
        "announce": lambda: fake.announce_reconnect(name),
    }
    action = actions.get(cmd)
    if action is None:
        return f"unknown command {cmd!r}; help lists them"
    try:
        action()
    except (ValueError, IndexError) as e:
        return f"{cmd}: {e or 'missing argument'}"
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", action="append", type=_rate, default=[],
                        help="NAME=MSGS_PER_S, repeatable")
    parser.add_argument("--env-file", help="write the ROTOR_*_WS variables here")
    args = parser.parse_args()
    with FakeStreamVenues(rates=dict(args.rate)) as fake:
        lines = "\n".join(f"{k}={v}" for k, v in fake.env().items())
        if args.env_file:
            with open(args.env_file, "w") as fh:
                fh.write(lines + "\n")
        print(lines, flush=True)
        try:
            for line in sys.stdin:
                if line.strip() in ("quit", "exit"):
                    return
                out = run_command(fake, line)
                if out:
                    print(out, flush=True)
            threading.Event().wait()  # no prompt (stdin closed): serve until interrupted
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
