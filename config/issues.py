"""The result of validating settings: errors and warnings, each with a field path."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class IssueSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ValidationIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    severity: IssueSeverity
    path: str = Field(description="dotted field path, e.g. accounts[0].risk.risk_percent")
    message: str


class ValidationReport(BaseModel):
    """What `tradedeck validate`, worker validation and the API all return."""

    subject: str = Field(default="configuration", description="a file name or an account id")
    issues: list[ValidationIssue] = Field(default_factory=list)

    @property
    def errors(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity is IssueSeverity.ERROR]

    @property
    def warnings(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity is IssueSeverity.WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def error(self, path: str, message: str) -> None:
        self.issues.append(
            ValidationIssue(severity=IssueSeverity.ERROR, path=path, message=message)
        )

    def warning(self, path: str, message: str) -> None:
        self.issues.append(
            ValidationIssue(severity=IssueSeverity.WARNING, path=path, message=message)
        )

    def for_prefix(self, prefix: str, subject: str) -> ValidationReport:
        """The issues under one path prefix (an account's slice of a whole report)."""
        return ValidationReport(
            subject=subject, issues=[i for i in self.issues if i.path.startswith(prefix)]
        )
