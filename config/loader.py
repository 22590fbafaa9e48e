"""Loading settings: a TOML file (or the built-in demo), then `TRADEDECK_*`
environment overrides, then type checks and the rules of `config.validation`.

Every problem comes back as an issue with a field path, all at once; nothing
here lets a TOML or pydantic traceback reach the user.

Overrides are `TRADEDECK_<SECTION>__<FIELD>`, nested with `__` as deep as the
file goes (`TRADEDECK_DEFAULTS__RISK__RISK_PERCENT=2`). A list item is picked by
index or, for accounts, by id (`TRADEDECK_ACCOUNTS__ACCOUNT_001__ENABLED=false`);
values starting with `[` or `{` are JSON. Variables without `__`
(`TRADEDECK_TOKEN`, `TRADEDECK_MT5_PASSWORD_<ACCOUNT>`) are not settings and are
left alone. pydantic-settings reads and nests the variables (prefix, case,
delimiter, JSON for complex fields); what it cannot do, address a list item by
its id and merge into the file's values rather than replace them, is a small
merge here, which also names each override's variable in its error.
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
from pydantic_settings import EnvSettingsSource, SettingsError
from pydantic_settings.sources.utils import parse_env_vars

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


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over `Settings`, reading the mapping
    it is given (the process environment by default) instead of `os.environ`
    itself, so tests and `validate` can pass their own."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(
            Settings,  # type: ignore[arg-type]  # a plain model: only its fields are read
            case_sensitive=False,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter=ENV_NESTING,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, case_sensitive=False)


def _apply_env(
    data: dict[str, Any], env: Mapping[str, str], report: ValidationReport
) -> dict[str, str]:
    """Merge every `TRADEDECK_<A>__<B>...` value into `data`; returns which variable
    set which field path. A variable that addresses nothing is an error."""
    variables = {
        name.upper(): name
        for name in env
        if name.upper().startswith(ENV_PREFIX) and ENV_NESTING in name
    }
    if not variables:
        return {}
    problems: list[tuple[str, str, str]] = []  # (variable, path, message)
    for upper, variable in variables.items():
        section = upper.removeprefix(ENV_PREFIX).split(ENV_NESTING)[0].lower()
        if section not in Settings.model_fields:
            problems.append((variable, section, f"there is no section [{section}]"))
    try:
        overrides = _Environment({variables[u]: env[variables[u]] for u in variables})()
    except SettingsError as error:
        problems.append(_malformed(env, variables, error))
        overrides = {}
    merge = _Merge(variables, problems)
    merge.into(data, overrides, [], [])
    for variable, path, message in sorted(problems):
        report.error(path, f"{variable}: {message}")
    return merge.overridden


def _malformed(
    env: Mapping[str, str], variables: dict[str, str], error: SettingsError
) -> tuple[str, str, str]:
    """The variable whose JSON value pydantic-settings could not decode."""
    for variable in sorted(variables.values()):
        value = env[variable]
        if value.lstrip().startswith(("[", "{")):
            try:
                json.loads(value)
            except json.JSONDecodeError as bad:
                path = variable.upper().removeprefix(ENV_PREFIX).lower().replace(ENV_NESTING, ".")
                return variable, path, f"the value is not valid JSON ({bad.msg})"
    return ENV_PREFIX + "*", "", str(error)


class _Merge:
    """Merges pydantic-settings' nested overrides into the file's data: tables by
    name (case-insensitive), lists by index or item id, creating missing tables;
    a JSON array replaces what it names, a JSON object merges into it."""

    def __init__(self, variables: dict[str, str], problems: list[tuple[str, str, str]]) -> None:
        self._variables = variables
        self._problems = problems
        self.overridden: dict[str, str] = {}

    def into(
        self, node: Any, overrides: dict[str, Any], at: list[str | int], keys: list[str]
    ) -> None:
        for key, value in overrides.items():
            here = [*keys, key]
            if isinstance(node, dict):
                name = next((k for k in node if str(k).lower() == key), key)
                self._set(node, name, value, [*at, name], here)
            elif isinstance(node, list):
                index = self._index(node, key, at, here)
                if index is not None:
                    self._set(node, index, value, [*at, index], here)
            else:
                self._problem(here, field_path(*at), f"{field_path(*at)} is a value, not a table")

    def _set(
        self, node: Any, name: str | int, value: Any, at: list[str | int], keys: list[str]
    ) -> None:
        current = node[name] if isinstance(node, list) or name in node else None
        if isinstance(value, dict) and current is None:
            current = node[name] = {}  # a table the file does not have
        if isinstance(value, dict) and isinstance(current, (dict, list)):
            self.into(current, value, at, keys)
        elif isinstance(value, dict) and current is not None:
            self._problem(keys, field_path(*at), f"{field_path(*at)} is a value, not a table")
        else:
            node[name] = _env_value(value)
            self.overridden[field_path(*at)] = self._variable(keys)

    def _index(
        self, items: list[Any], key: str, at: list[str | int], keys: list[str]
    ) -> int | None:
        if key.isdigit():
            if int(key) < len(items):
                return int(key)
            self._problem(keys, field_path(*at), f"there is no item {key} in {field_path(*at)}")
            return None
        for index, item in enumerate(items):
            if isinstance(item, dict) and env_name(str(item.get("id", ""))) == key.upper():
                return index
        self._problem(
            keys, field_path(*at), f"no item in {field_path(*at)} has the id {key.upper()}"
        )
        return None

    def _variable(self, keys: list[str]) -> str:
        """The variable that set `keys`: the longest prefix that names one."""
        for end in range(len(keys), 0, -1):
            name = ENV_PREFIX + ENV_NESTING.join(keys[:end]).upper()
            if name in self._variables:
                return self._variables[name]
        return ENV_PREFIX + ENV_NESTING.join(keys).upper()

    def _problem(self, keys: list[str], path: str, message: str) -> None:
        """One problem for each variable at or beneath `keys`."""
        name = ENV_PREFIX + ENV_NESTING.join(keys).upper()
        beneath = [
            v for u, v in self._variables.items() if u == name or u.startswith(name + ENV_NESTING)
        ]
        for variable in beneath or [self._variable(keys)]:
            self._problems.append((variable, path, message))


def _env_value(raw: Any) -> Any:
    """Strings pydantic-settings left alone (under a list item it cannot type)
    that look like JSON are decoded; other scalars stay strings for pydantic."""
    if isinstance(raw, dict):
        return {key: _env_value(value) for key, value in raw.items()}
    if isinstance(raw, str) and raw.lstrip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw  # pydantic then reports the field's type error with its path
    return raw
