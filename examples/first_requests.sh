#!/usr/bin/env bash
# The first requests of docs/API_QUICK_START.md (README.md shows three of them), exactly as printed there,
# against the server that `make run` starts (http://127.0.0.1:8000, demo bot 123):
#
#   KEY=tb_... bash examples/first_requests.sh        # the key `make run` printed
#
# Lists pending tracking numbers and CLIENT123's, creates NEW123456 (a second run answers 409: it exists),
# moves tracking number 1 to in_transit and reads the overview. Needs nothing but curl.
set -euo pipefail
: "${KEY:?set KEY to the API key that make run printed}"

curl -H "X-API-Key: $KEY" "http://127.0.0.1:8000/api/v1/tracking/123?page=1&page_size=5&status_filter=pending"
curl -H "X-API-Key: $KEY" http://127.0.0.1:8000/api/v1/tracking/123/by-client/CLIENT123
curl -H "X-API-Key: $KEY" -H "Content-Type: application/json" \
     -d '{"tracking_number": "NEW123456", "client_code": "CLIENT123", "weight_kg": 10.5, "price_per_kg_usd": 14.29}' \
     http://127.0.0.1:8000/api/v1/tracking/123
curl -H "X-API-Key: $KEY" -X PUT -H "Content-Type: application/json" -d '{"status": "in_transit"}' \
     http://127.0.0.1:8000/api/v1/tracking/123/1
curl -H "X-API-Key: $KEY" http://127.0.0.1:8000/api/v1/statistics/123/overview

# What a refused request looks like: -i prints the status line and headers (X-Request-ID, X-RateLimit-*).
curl -i -H "X-API-Key: tb_not_a_real_key" http://127.0.0.1:8000/api/v1/bots/123
