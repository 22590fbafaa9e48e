from engine.client import LocalEngineClient
async def test_probe(engine):
    s = await LocalEngineClient(engine).snapshot()
    print("EQ", s.system.total_equity, sum(a.equity for a in s.accounts), [p.current_price for p in s.positions][:3], [ (q.symbol,q.bid) for q in s.quotes][:2], len(s.orders))
