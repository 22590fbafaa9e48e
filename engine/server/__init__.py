"""The REST + WebSocket API (SPEC 6 and 7): FastAPI on uvicorn, inside the
engine's event loop. It reaches the engine only through its public facade."""
