"""Prometheus metrics of the API (served on `settings.metrics_port_for("api")`, base + 50 by default).

Why route templates and fixed reason sets as labels: a label per raw path or per token would give every
alert id its own series and grow Prometheus without bound.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("omnitrack_api_requests_total", "HTTP requests answered, by route template, method and status",
                   ["route", "method", "status"])
DURATION = Histogram("omnitrack_api_request_duration_seconds", "Time to answer an HTTP request",
                     ["route", "method"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                                   2.5, 5.0, 10.0, 30.0))
AUTH_FAILURES = Counter("omnitrack_api_auth_failures_total", "Requests refused: 401 reasons and 403 (forbidden)",
                        ["reason"])
VIEW_RECORDS = Counter("omnitrack_api_view_records_total", "Kafka records read into the API's read model",
                       ["topic"])
OPEN_STREAMS = Gauge("omnitrack_api_open_streams", "GET /alerts/stream and /twin/stream connections open now")
READY = Gauge("omnitrack_api_ready", "1 once the read model has caught up with the topics' end at start")
RATE_LIMITED = Counter("omnitrack_api_rate_limited_total",
                       "Requests refused with 429 because their token's subject exceeded its rate limit")
