"""Brokers behind one protocol: paper accounts now, MetaTrader 5 later."""
