"""A portfolio equity chart: each account's equity over time, saved as a PNG.

python examples/equity_chart.py --key $KEY --out equity.png [--resolution 1h]
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
from _client import arguments, checked, client


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--out", default="equity.png")
    parser.add_argument("--resolution", default=None, help="1m, 5m, 15m, 1h, 4h or 1d")
    args = parser.parse_args()
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    with client(args) as http:
        skip = 0
        while True:  # every page of the history
            params = {"skip": skip, "limit": 500, "sort": "time"}
            if args.resolution:
                params["resolution"] = args.resolution
            page = checked(http.get("/portfolio/history", params=params))
            for point in page["items"]:
                when = datetime.fromisoformat(point["time"])
                series[point["account_id"]].append((when, float(point["equity"])))
            skip += len(page["items"])
            if not page["items"] or skip >= page["total"]:
                break
    if not series:
        raise SystemExit("No equity history yet: let the engine run a while.")
    figure, axes = plt.subplots(figsize=(10, 5), dpi=100)
    for account, points in sorted(series.items()):
        axes.plot([t for t, _ in points], [e for _, e in points], label=account)
    axes.set_title("Equity by account")
    axes.set_ylabel("equity")
    axes.legend()
    figure.autofmt_xdate()
    figure.savefig(args.out)
    total = sum(len(p) for p in series.values())
    print(f"{args.out}: {len(series)} accounts, {total} points")


if __name__ == "__main__":
    main()
