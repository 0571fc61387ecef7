#!/usr/bin/env bash
# One curl per operation of the platform admin API (docs/PLATFORM_ADMIN_API.md), against the server that
# `make run` starts (http://127.0.0.1:8000), with a platform token from
# `flask --app wsgi platform-tokens create --name "bot platform" --json`:
#
#   TOKEN=tp_... bash examples/platform_admin.sh
#
# Signs up bot 900, issues, changes, rolls and revokes its keys, reads usage, security events, webhooks and the
# audit trail, and makes and resets its sandbox. Bot 900 must not exist yet. Needs curl and python3 (to read
# ids out of the answers).
set -euo pipefail
: "${TOKEN:?set TOKEN to a platform token (tp_...)}"
ADMIN=http://127.0.0.1:8000/api/admin/v1

# Bots: sign-up, list, read, change
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
     -d '{"id": 900, "name": "Silk Road Cargo", "username": "@silk_road_bot", "timezone": "Asia/Almaty"}' \
     "$ADMIN/bots"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots?is_active=true&page_size=10"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -X PATCH -H "Content-Type: application/json" \
     -d '{"subscription_status": "active"}' "$ADMIN/bots/900"

# Keys: "Create API key" (the answer's "key" is shown once), list, read, change
KEY_ID=$(curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
     -d '{"name": "CRM sync", "scopes": ["read", "write"]}' "$ADMIN/bots/900/keys" \
     | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/keys"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/keys/$KEY_ID"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -X PATCH -H "Content-Type: application/json" \
     -d '{"rate_limit_per_minute": 120, "scopes": ["read", "write", "webhooks"]}' "$ADMIN/bots/900/keys/$KEY_ID"

# "Roll key": a new key now, the old one keeps working for an hour; then "Revoke" the new one
NEW_KEY_ID=$(curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
     -d '{"grace_period_seconds": 3600}' "$ADMIN/bots/900/keys/$KEY_ID/roll" \
     | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"]["id"])')
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -X POST "$ADMIN/bots/900/keys/$NEW_KEY_ID/revoke"

# "Usage", security events, webhook endpoints' health
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/keys/$KEY_ID/usage?days=7"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/usage?days=7"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/security-events?kind=wrong-bot"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/webhooks"

# The sandbox: create, read, reset to the demo data
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -X POST "$ADMIN/bots/900/sandbox"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/bots/900/sandbox"
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -X POST "$ADMIN/bots/900/sandbox/reset"

# The audit trail of every write above
curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$ADMIN/audit?bot_id=900"
