"""The OmniTrack HTTP API (`omnitrack api`): alerts, scenarios and the twin over JSON, behind bearer tokens.

Why a separate process reading Kafka rather than the workers' tables: the API must answer while workers
rebalance or restart, and the public topics (`alerts`, `scenarios.results`, `twin.changes`) already carry
everything it shows. Writes go back through Kafka (`alerts.commands`, `scenarios.requests`), so the single
writer of each piece of state stays the Faust agent that owns it.

  auth.py    tokens and roles (pure)          keys.py    which key verifies them (env or the dev secret file)
  views.py   the in-memory read model (pure)   history.py its 1-minute windows (pure)
  feed.py    Kafka → read model, readiness     network.py the network map (from the network file)
  models.py  request bodies and queries        schemas.py answers (for the OpenAPI document)
  routes.py  the handlers                      catalog.py the route table (/api/v1 and the aliases)
  openapi.py the OpenAPI 3.1 document          live.py    the Server-Sent Event streams
  limits.py  per-subject rate limits           cors.py    cross-origin calls
  console.py the web console (console/)        app.py     the aiohttp application
  main.py    `omnitrack api` and `omnitrack api token`
"""
