"""Remote strategy control: list the strategies, pause one, resume it.

    python examples/strategy_control.py --key $KEY                 # list
    python examples/strategy_control.py --key $KEY pause ID
    python examples/strategy_control.py --key $KEY resume ID

Pausing and resuming need a trader key; the state is stored, so a paused
strategy stays paused across a restart of the server.
"""

from __future__ import annotations

from _client import arguments, checked, client


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=["list", "pause", "resume"], default="list")
    parser.add_argument("strategy", nargs="?", help="a strategy id (see the list)")
    args = parser.parse_args()
    with client(args) as http:
        if args.action != "list":
            if not args.strategy:
                parser.error(f"{args.action} needs a strategy id")
            changed = checked(http.put(f"/strategies/{args.strategy}/{args.action}"))
            print(f"{changed['id']}: {changed['state']}")
            return
        page = checked(http.get("/strategies", params={"limit": 500}))
        print(f"{'strategy':<28} {'account':<14} {'kind':<16} state")
        for s in page["items"]:
            print(f"{s['id']:<28} {s['account_id']:<14} {s['kind']:<16} {s['state']}")


if __name__ == "__main__":
    main()
