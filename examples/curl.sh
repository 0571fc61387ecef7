#!/usr/bin/env bash
# One curl per endpoint of the v1 API, in the order an integration meets them:
#
#   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 bash examples/curl.sh
#
# Creates a tracking number for CLIENT123 (so it changes the bot's data) and moves it to in_transit.
# Needs nothing but curl (7.76 or later); stops at the first non-2xx answer, printing its problem+json body.
set -euo pipefail

API="${TRACKER_API_URL:-https://your-api-domain.com/api/v1}"
KEY="${TRACKER_API_KEY:-tb_your_api_key_here}"
BOT="${TRACKER_BOT_ID:-123}"

call() {  # METHOD PATH [JSON BODY]: the request line on stderr, the response body on stdout
  echo "$1 /api/v1$2" >&2
  local body
  if ! body=$(curl --silent --show-error --fail-with-body -X "$1" -H "X-API-Key: $KEY" \
                   ${3:+-H "Content-Type: application/json" --data-binary "$3"} "$API$2"); then
    echo "$body" >&2
    return 1
  fi
  echo "$body"
}

first_id() {  # the first "id" in a JSON document: the record's own, or the first item's in a list
  grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$'
}

# Tracking numbers
created=$(call POST "/tracking/$BOT" '{"tracking_number": "SH'"$(date +%s%N)"'", "client_code": "CLIENT123",
  "status": "pending", "quantity": 5, "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.00,
  "note": "Хрупкое"}')
echo "$created"
tracking_id=$(echo "$created" | first_id)
call GET "/tracking/$BOT?page=1&page_size=50&status_filter=pending"
call GET "/tracking/$BOT/$tracking_id"
call PUT "/tracking/$BOT/$tracking_id" '{"status": "in_transit"}'
call GET "/tracking/$BOT/$tracking_id/history"
call GET "/tracking/$BOT/by-client/CLIENT123"

# Clients
clients=$(call GET "/clients/$BOT?page=1&page_size=50")
echo "$clients"
client_id=$(echo "$clients" | first_id)
if [ -n "$client_id" ]; then
  call GET "/clients/$BOT/$client_id"
else
  echo "(no clients yet: GET /clients/$BOT/{client_id} skipped)" >&2
fi

# Statistics
call GET "/statistics/$BOT/overview"
call GET "/statistics/$BOT/tracking"

# The bot, and this key's own usage
call GET "/bots/$BOT"
call GET "/bots/$BOT/usage?days=7"
