"""Loading settings: a TOML file (or the built-in demo), then `TRADEDECK_*`
environment overrides, then type checks and the rules of `config.validation`.

Every problem comes back as an issue with a field path, all at once; nothing
here lets a TOML or pydantic traceback reach the user.

Overrides are `TRADEDECK_<SECTION>__<FIELD>`, nested with `__` as deep as the
file goes (`TRADEDECK_DEFAULTS__RISK__RISK_PERCENT=2`). A list item is picked by
index or, for accounts, by id (`TRADEDECK_ACCOUNTS__ACCOUNT_001__ENABLED=false`);
values starting with `[` or `{` are JSON. Variables without `__`
(`TRADEDECK_TOKEN`, `TRADEDECK_MT5_PASSWORD_<ACCOUNT>`) are not settings and are
left alone. This is a small explicit merge rather than pydantic-settings: that
reads `os.environ` only and cannot address list items, while here the
environment is injectable (tests) and each override is named in its error.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.env import ENV_PREFIX, env_name, password_env_var
from config.issues import ValidationReport
from config.models import Settings
from config.report import describe_counts
from config.validation import field_path, path_under, pydantic_message, validate_settings

ENV_NESTING = "__"
DEMO_FILE = "demo.toml"

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class ConfigError(Exception):
    """The configuration cannot be used; `report` holds every issue found."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report


def load_settings(path: Path | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `path` (the built-in demo when None) with the environment's
    overrides applied. Raises `ConfigError` on any error; warnings do not raise."""
    settings, report = _load(path, env)
    if settings is None or not report.valid:
        raise ConfigError(_error_sentence(path, report), report)
    return settings


def check_file(path: Path | None, *, env: Mapping[str, str] | None = None) -> ValidationReport:
    """Every parse and rule issue of `path` in one report (`tradedeck validate`);
    never raises for a bad or missing file. Probes mt5linux servers too."""
    return _load(path, env, probe_bridges=True)[1]


# --- the pipeline ----------------------------------------------------------------------


def _load(
    path: Path | None, env: Mapping[str, str] | None, *, probe_bridges: bool = False
) -> tuple[Settings | None, ValidationReport]:
    report = ValidationReport(subject=DEMO_FILE if path is None else path.name)
    text = _read(path, report)
    if text is None:
        return None, report
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        report.error("", _toml_message(error))
        return None, report
    overridden = _apply_env(data, os.environ if env is None else env, report)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        _add_parse_errors(report, error, data, overridden)
        return None, report
    report.issues.extend(validate_settings(settings, probe_bridges=probe_bridges).issues)
    return settings, report


def _read(path: Path | None, report: ValidationReport) -> str | None:
    if path is None:
        return files("config").joinpath(DEMO_FILE).read_text(encoding="utf-8")
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = "the file does not exist"
    except IsADirectoryError:
        problem = "the path is a directory, not a file"
    except PermissionError:
        problem = "permission to read the file was denied"
    except UnicodeDecodeError:
        problem = "the file is not UTF-8 text"
    except OSError as error:
        problem = f"the file cannot be read: {error.strerror or error}"
    report.error("", problem)
    return None


def _toml_message(error: tomllib.TOMLDecodeError) -> str:
    """`Invalid value (at line 3, column 7)` -> `TOML syntax error at line 3,
    column 7: invalid value`."""
    text = str(error)
    position = _TOML_POSITION.search(text)
    if position is None:
        return f"TOML syntax error: {text}"
    line, column = position.groups()
    what = text[: position.start()]
    return f"TOML syntax error at line {line}, column {column}: {what[:1].lower()}{what[1:]}"


def _add_parse_errors(
    report: ValidationReport,
    error: ValidationError,
    data: dict[str, Any],
    overridden: dict[str, str],
) -> None:
    """Type errors as issues; a password key gets its own advice, and a value that
    came from the environment names its variable."""
    for detail in error.errors():
        loc = detail["loc"]
        path = field_path(*loc)
        message = pydantic_message(detail)
        if detail["type"] == "extra_forbidden" and loc[-1] == "password":
            message = _password_advice(data, loc)
        variable = next((v for p, v in overridden.items() if path_under(path, p)), None)
        if variable is not None:
            message += f" (from {variable})"
        report.error(path, message)


def _password_advice(data: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    advice = "passwords never go in the configuration file"
    if loc[0] == "accounts" and isinstance(loc[1], int):
        account = data["accounts"][loc[1]]
        account_id = account.get("id") if isinstance(account, dict) else None
        if isinstance(account_id, str):
            return f"{advice}; set {password_env_var(account_id)} in the environment instead"
    return f"{advice}; set them in the environment instead"


def _error_sentence(path: Path | None, report: ValidationReport) -> str:
    where = "the built-in demo configuration" if path is None else f"the configuration {path}"
    first = report.errors[0]
    if not first.path:  # the whole file is unusable: that one problem is the story
        return f"Cannot load {where}: {first.message}."
    summary = f"{where[0].upper()}{where[1:]} is not valid ({describe_counts(report)})"
    return f"{summary}. First: {first.path}: {first.message}."


# --- environment overrides -------------------------------------------------------------


def _apply_env(
    data: dict[str, Any], env: Mapping[str, str], report: ValidationReport
) -> dict[str, str]:
    """Set every `TRADEDECK_<A>__<B>...` value into `data`; returns which variable
    set which field path. A variable that addresses nothing is an error."""
    overridden: dict[str, str] = {}
    for variable in sorted(env):
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or ENV_NESTING not in name:
            continue
        keys = name.removeprefix(ENV_PREFIX).split(ENV_NESTING)
        try:
            path = _set_nested(data, keys, _env_value(env[variable]))
        except _Unaddressable as problem:
            report.error(problem.path, f"{variable}: {problem}")
            continue
        overridden[path] = variable
    return overridden


class _Unaddressable(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def _set_nested(data: dict[str, Any], keys: list[str], value: Any) -> str:
    """Walk `keys` into `data` (tables by name, case-insensitive; lists by index
    or item id), creating missing tables, and set `value` at the end. Returns
    the field path that was set."""
    node: Any = data
    at: list[str | int] = []
    for position, key in enumerate(keys):
        last = position == len(keys) - 1
        if isinstance(node, dict):
            name = next((k for k in node if k.upper() == key), key.lower())
            at.append(name)
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
        elif isinstance(node, list):
            index = _list_index(node, key, at)
            at.append(index)
            if last:
                node[index] = value
            else:
                node = node[index]
        else:
            raise _Unaddressable(field_path(*at), f"{field_path(*at)} is a value, not a table")
    return field_path(*at)


def _list_index(items: list[Any], key: str, at: list[str | int]) -> int:
    if key.isdigit():
        if int(key) < len(items):
            return int(key)
        raise _Unaddressable(field_path(*at), f"there is no item {key} in {field_path(*at)}")
    for index, item in enumerate(items):
        if isinstance(item, dict) and env_name(str(item.get("id", ""))) == key:
            return index
    raise _Unaddressable(field_path(*at), f"no item in {field_path(*at)} has the id {key}")


def _env_value(raw: str) -> Any:
    """Scalars stay strings (pydantic converts them); `[...]` and `{...}` are JSON."""
    if raw.lstrip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw  # pydantic then reports the field's type error with its path
    return raw
