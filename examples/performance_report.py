"""A performance report: the book's metrics and each strategy's trades.

python examples/performance_report.py --key $KEY [--account ID] [--benchmark EURUSD]
"""

from __future__ import annotations

from _client import arguments, checked, client

ROWS = [
    ("Total return", "total_return", "pct"),
    ("Annualised return", "annualised_return", "pct"),
    ("Volatility", "volatility", "pct"),
    ("Sharpe", "sharpe", "ratio"),
    ("Sortino", "sortino", "ratio"),
    ("Max drawdown", "max_drawdown", "pct"),
    ("Calmar", "calmar", "ratio"),
    ("Win rate", "win_rate", "pct"),
    ("Profit factor", "profit_factor", "ratio"),
    ("Trades", "trades", "count"),
]


def shown(value: object, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{float(value) * 100:.2f} %"
    if kind == "ratio":
        return f"{float(value):.2f}"
    return str(value)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--account")
    parser.add_argument("--benchmark")
    args = parser.parse_args()
    params = {k: v for k, v in (("account", args.account), ("benchmark", args.benchmark)) if v}
    with client(args) as http:
        report = checked(http.get("/performance/metrics", params=params))
    metrics = report["metrics"]
    accounts = ", ".join(report.get("accounts") or [])
    print(f"Performance of {accounts} from {metrics.get('start') or '-'} to {report['until']}")
    for label, field, kind in ROWS:
        print(f"  {label:<20} {shown(metrics.get(field), kind):>12}")
    strategies = report.get("strategies") or []
    if strategies:
        print("By strategy:")
        for s in strategies:
            name = s["strategy_id"] or "(by hand)"
            print(
                f"  {name:<28} {s['account_id']:<14} trades {s['trades']:>5}  "
                f"realised {s['realised_pnl']}"
            )


if __name__ == "__main__":
    main()
