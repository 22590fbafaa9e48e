"""The async engine: workers, brokers, strategies, market data and the event bus."""
