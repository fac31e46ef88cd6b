"""`python -m gateway`: the gateway on SANAD_GATEWAY_HOST:SANAD_GATEWAY_PORT (127.0.0.1:8000)."""
from __future__ import annotations

import logging

import uvicorn

from gateway.app.config import Settings
from gateway.app.main import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.HOST, port=settings.PORT, ws_max_size=64 * 1024,
                proxy_headers=settings.TRUST_PROXY_HEADERS, log_level="info")


if __name__ == "__main__":
    main()
