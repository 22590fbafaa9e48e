"""Persistence on aiosqlite: schema, migrations, the group-commit writer and repositories."""
