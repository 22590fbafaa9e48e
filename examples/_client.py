"""What every example shares: where the server is and the key to use.

`--url` (or TRADEDECK_URL, default http://127.0.0.1:8765) and `--key` (or
TRADEDECK_KEY: an API key from `tradedeck keys create`).
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=os.environ.get("TRADEDECK_URL", "http://127.0.0.1:8765"))
    parser.add_argument("--key", default=os.environ.get("TRADEDECK_KEY"))
    return parser


def client(args: argparse.Namespace) -> httpx.Client:
    if not args.key:
        sys.exit("No API key: pass --key or set TRADEDECK_KEY (tradedeck keys create).")
    return httpx.Client(base_url=args.url, headers={"X-API-Key": args.key}, timeout=10.0)


def checked(response: httpx.Response) -> dict:
    """The JSON body, or exit with the server's own error message."""
    if response.is_error:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        sys.exit(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {message}"
        )
    return response.json()
