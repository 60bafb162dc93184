"""The cases service's settings."""

from __future__ import annotations

from pydantic import Field

from caseflow_servicekit import ServiceSettings


class CasesSettings(ServiceSettings):
    """Settings of the cases service, from the environment."""

    database_url: str = Field(validation_alias="CASES_DATABASE_URL")
    http_port: int = Field(default=8082, validation_alias="HTTP_PORT")
    contract_upkeep_seconds: float = Field(
        default=300.0, gt=0, validation_alias="CASES_CONTRACT_UPKEEP_SECONDS"
    )
    """How often contracts past their end are expired and owners told of coming ends."""
    calls_billable: bool = Field(default=True, validation_alias="CASES_CALLS_BILLABLE")
    """Whether a telephone call logged on a case (when it ends) counts as billable time."""
    reopen_window_days: int = Field(
        default=7, ge=0, le=36_500, validation_alias="CASES_REOPEN_WINDOW_DAYS"
    )
    """For how many days after its resolution a customer writing on a case reopens it; after
    that, their message opens a new case that refers to it."""
