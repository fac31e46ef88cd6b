"""Container health check of docker-compose.yml: exit 0 when the URL answers with a status below
400. The standard library only: slim images have no curl.

    python /app/deploy/healthcheck.py http://127.0.0.1:8100/health
"""
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        sys.exit(0 if response.status < 400 else 1)
except Exception as error:  # refused, timeout, HTTP error: unhealthy, and say why
    print(f"{sys.argv[1]}: {error}", file=sys.stderr)
    sys.exit(1)
