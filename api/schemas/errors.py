"""The body of a refusal: the fields at fault and why, or a message."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    detail: list[ErrorItem] | str
