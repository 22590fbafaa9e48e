"""The Textual panel. Talks only to an `EngineClient`."""
