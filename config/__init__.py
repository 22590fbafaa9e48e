"""What the user sets: settings models, loading (TOML + environment) and validation."""
