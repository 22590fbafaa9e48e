"""MetaTrader 5 accounts: `broker.Mt5Broker` behind the `Broker` protocol, a
bridge child process per terminal (`bridge`, `transport`), MT5's request and
record shapes (`mapping`, `book`) and its numbers (`constants`).

Nothing is imported here, so the bridge child and test stand-ins can read
`constants` without loading the engine."""
