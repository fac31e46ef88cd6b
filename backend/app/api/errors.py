"""One error shape for every answer that is not a success: `{"detail": {"code": ..., ...}}`,
except validation errors (422), which list what is wrong without echoing the submitted values."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def http_error(status: int, code: str, headers: dict[str, str] | None = None, **extra: Any) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, **extra}, headers=headers)


def error_response(status: int, code: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": {"code": code, **extra}}, status_code=status, headers=headers)


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, dict) else {"code": _status_code_name(exc.status_code)}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def validation_exception_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default answer repeats each invalid `input`: here, a birth date or a phone number.
    issues = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
              for error in exc.errors()]
    return JSONResponse({"detail": issues}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
