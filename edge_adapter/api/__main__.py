"""Run the API: `python -m edge_adapter.api [--host H] [--port P] [--workers N]`.

uvicorn's settings live here, in one place: h11 as the HTTP parser because it bounds the
request line and header block (LSP_MAX_HEADER_BYTES; httptools buffers headers of any size),
no Server header, idle keep-alive connections closed after LSP_KEEP_ALIVE_S, at most
LSP_MAX_CONCURRENCY connections and requests at once (503 beyond), and X-Forwarded-For /
-Proto believed only from LSP_TRUSTED_PROXIES. Header read time is not bounded by uvicorn:
production runs behind a proxy that bounds it (README, "Production")."""

import argparse

import uvicorn

from ..settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=settings.workers)
    args = parser.parse_args()
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    uvicorn.run(
        "edge_adapter.api:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
        server_header=False,
        timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=settings.max_concurrency,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
