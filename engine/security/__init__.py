"""Who may do what: users, API keys, JWTs, roles, account scopes, rate limits
and the audit log. The API server enforces it; nothing here knows HTTP."""
