#!/usr/bin/env bash
# One curl per endpoint of the v1 API, in the order an integration meets them:
#
#   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 bash examples/curl.sh
#
# Creates a tracking number for CLIENT123, moves it to in_transit, reads the change feed, then deletes it; sets up,
# tests and deletes a webhook endpoint.
# Needs nothing but curl (7.76 or later); stops at the first non-2xx answer, printing its problem+json body.
set -euo pipefail

API="${TRACKER_API_URL:-https://your-api-domain.com/api/v1}"
KEY="${TRACKER_API_KEY:-tb_your_api_key_here}"
BOT="${TRACKER_BOT_ID:-123}"

call() {  # METHOD PATH [JSON BODY]: the request line on stderr, the response body on stdout; HEADER= adds one
  echo "$1 /api/v1$2" >&2
  local body
  if ! body=$(curl --silent --show-error --fail-with-body -X "$1" -H "X-API-Key: $KEY" ${HEADER:+-H "$HEADER"} \
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
number="SH$(date +%s%N)"  # the Idempotency-Key makes a retry of this POST safe: it cannot create a second one
created=$(HEADER="Idempotency-Key: create-$number" call POST "/tracking/$BOT" '{"tracking_number": "'"$number"'",
  "client_code": "CLIENT123", "status": "pending", "quantity": 5, "weight_kg": 10.5, "price_per_kg_usd": 14.29, "total_cost_usd": 150.00,
  "note": "Хрупкое"}')
echo "$created"
tracking_id=$(echo "$created" | first_id)
call GET "/tracking/$BOT?page=1&page_size=50&status_filter=pending"
call GET "/tracking/$BOT/$tracking_id"
call PUT "/tracking/$BOT/$tracking_id" '{"status": "in_transit"}'
call GET "/tracking/$BOT/$tracking_id/history"
# What the tracking widget shows a customer: status and timeline only (a page calls it with a publishable key)
call GET "/widget/$BOT/track/$number"
call GET "/tracking/$BOT/by-client/CLIENT123"
# The same parcel by its number, as a CRM knows it: read it, then replace it (PUT creates one that does not exist)
call GET "/tracking/$BOT/by-number/$number"
call PUT "/tracking/$BOT/by-number/$number" '{"client_code": "CLIENT123", "status": "in_transit", "quantity": 2}'
# The change feed: what changed since a time, then since the page's next_cursor (see the integration guide)
call GET "/tracking/$BOT?updated_since=2025-01-01T00:00:00Z&page_size=10"
call DELETE "/tracking/$BOT/$tracking_id"
# A deletion can be undone for 30 days: the parcel comes back with its id and status history
call POST "/tracking/$BOT/$tracking_id/restore"
# Bulk import: rows created, updated or unchanged, all or nothing (JSON here; CSV too, see the guide)
HEADER="Idempotency-Key: import-$number" call POST "/tracking/$BOT/import" \
  '[{"tracking_number": "'"$number"'-A", "client_code": "CLIENT123", "status": "in_transit"}]'

# Clients
code="CL$(date +%s%N)"
created=$(call POST "/clients/$BOT" '{"client_code": "'"$code"'", "name": "Алия Нурланова", "phone": "+77011234567",
  "telegram_username": "@aliya_n", "telegram_id": 512345678}')
echo "$created"
client_id=$(echo "$created" | first_id)
call GET "/clients/$BOT?page=1&page_size=50"
call GET "/clients/$BOT/$client_id"
call PATCH "/clients/$BOT/$client_id" '{"phone": "+7 (701) 123-45-67"}'
call PUT "/clients/$BOT/$client_id" '{"client_code": "'"$code"'", "name": "Алия Нурланова", "telegram_id": 512345678}'
call PUT "/clients/$BOT/by-code/$code" '{"name": "Aliya Nurlanova", "telegram_username": "aliya_n"}'
call DELETE "/clients/$BOT/$client_id"
call POST "/clients/$BOT/$client_id/restore"
call POST "/clients/$BOT/import" '[{"client_code": "'"$code"'-A", "name": "Бахтияр Садыков"}]'

# Export: every matching record as CSV (or NDJSON), streamed
call GET "/export/$BOT/tracking?status_filter=in_transit"
call GET "/export/$BOT/clients?format=ndjson"

# Statistics
call GET "/statistics/$BOT/overview"
call GET "/statistics/$BOT/tracking"

# The bot, and this key's own usage
call GET "/bots/$BOT"
call GET "/bots/$BOT/usage?days=7"
# The calling key itself: its bot, scopes, rate limit and expiry
call GET "/me"

# Webhooks: a URL of yours that receives every change, signed (see the integration guide's Webhooks section)
created=$(call POST "/webhooks/$BOT" '{"url": "https://crm.example.com/hooks/tracker",
  "events": ["tracking.created", "tracking.status_changed"], "description": "CRM status sync"}')
echo "$created"  # the only answer that shows the signing secret: store it
webhook_id=$(echo "$created" | first_id)
call GET "/webhooks/$BOT"
call GET "/webhooks/$BOT/$webhook_id"
call PATCH "/webhooks/$BOT/$webhook_id" '{"events": ["tracking.status_changed", "tracking.deleted"]}'
call POST "/webhooks/$BOT/$webhook_id/rotate-secret"
queued=$(call POST "/webhooks/$BOT/$webhook_id/test")
echo "$queued"
delivery_id=$(echo "$queued" | first_id)
call GET "/webhooks/$BOT/$webhook_id/deliveries?page_size=20"
call POST "/webhooks/$BOT/$webhook_id/deliveries/$delivery_id/redeliver"
call DELETE "/webhooks/$BOT/$webhook_id"
