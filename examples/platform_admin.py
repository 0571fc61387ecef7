"""The bot platform's backend and the admin API, runnable: what each button of a bot's admin menu calls.

    TRACKER_ADMIN_URL=http://127.0.0.1:8000/api/admin/v1 TRACKER_PLATFORM_TOKEN=tp_... \\
        python examples/platform_admin.py 9001 "Silk Road Cargo" @silk_road_cargo_bot

Walks a company's life: sign-up (a bot), "Create API key" (scoped), the integration checking its key with
GET /api/v1/me, "Roll key" (the old key keeps working for an hour), "Revoke", "Usage", and a sandbox bot to
develop against. Prints what the owner would see; exits 1 with the problem's detail on any error.
"""
import os
import sys

import requests

ADMIN_URL = os.environ.get('TRACKER_ADMIN_URL', 'https://your-api-domain.com/api/admin/v1')
API_URL = ADMIN_URL.replace('/api/admin/v1', '/api/v1')  # the integrators' API, for the key check
PLATFORM_TOKEN = os.environ.get('TRACKER_PLATFORM_TOKEN', 'tp_your_platform_token_here')
HEADERS = {'Authorization': f'Bearer {PLATFORM_TOKEN}'}


class AdminApiError(Exception):
    pass


def admin(method, path, **kwargs):
    """One admin API call; a problem answer becomes an AdminApiError with its detail."""
    response = requests.request(method, f"{ADMIN_URL}{path}", headers=HEADERS, timeout=30, **kwargs)
    if response.status_code >= 400:
        problem = response.json()
        raise AdminApiError(f"{problem['status']}: {problem['detail']}")
    return response.json()


def sign_up(bot_id, name, username, timezone='UTC'):
    """A company signed up: its bot."""
    return admin('POST', '/bots', json={'id': bot_id, 'name': name, 'username': username, 'timezone': timezone,
                                        'subscription_status': 'trial'})


def create_api_key(bot_id, name, scopes=None):
    """"Create API key": the answer's `key` is shown to the owner once and never stored by the platform."""
    return admin('POST', f'/bots/{bot_id}/keys', json={'name': name, 'scopes': scopes})


def roll_key(bot_id, key_id, grace_period_seconds=3600):
    """"Roll key": a new key now; the old one works until the grace period ends (at most 7 days)."""
    return admin('POST', f'/bots/{bot_id}/keys/{key_id}/roll', json={'grace_period_seconds': grace_period_seconds})


def revoke_key(bot_id, key_id):
    """"Revoke": refused from the next request on."""
    return admin('POST', f'/bots/{bot_id}/keys/{key_id}/revoke')


def usage(bot_id, days=7):
    """"Usage": requests per day by outcome, all keys and each key, and the last use."""
    return admin('GET', f'/bots/{bot_id}/usage', params={'days': days})


def check_key(plain_key):
    """What an integration can learn from its key alone."""
    response = requests.get(f"{API_URL}/me", headers={'X-API-Key': plain_key}, timeout=30)
    response.raise_for_status()
    return response.json()


def main(bot_id, name, username):
    bot = sign_up(bot_id, name, username)
    print(f"Signed up: bot {bot['id']} ({bot['name']}, {bot['subscription_status']})")
    key = create_api_key(bot['id'], 'CRM sync', scopes=['read', 'write'])
    print(f"New API key {key['prefix']}... (id {key['id']}): show it once, then forget it")
    me = check_key(key['key'])
    print(f"The key works: bot {me['bot_id']}, scopes {', '.join(me['scopes'])}")
    rolled = roll_key(bot['id'], key['id'])
    print(f"Rolled: new key {rolled['key']['prefix']}..., the old one works until {rolled['previous']['expires_at']}")
    revoked = revoke_key(bot['id'], rolled['key']['id'])
    print(f"Revoked key {revoked['id']} at {revoked['revoked_at']}")
    report = usage(bot['id'])
    today = report['days'][0]
    print(f"Usage today: {today['total']} requests ({today['success']} succeeded), "
          f"last use {report['last_used_at'] or 'never'}")
    sandbox = admin('POST', f"/bots/{bot['id']}/sandbox")
    print(f"Sandbox bot {sandbox['id']} with the demo data, for developing against")


if __name__ == '__main__':
    try:
        main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    except (AdminApiError, requests.RequestException) as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
