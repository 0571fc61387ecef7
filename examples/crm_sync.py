"""A CRM and the API, runnable: push a parcel (create the tracking number, or update it when the bot already
has it), and keep the CRM's copy of the bot's clients in step with the clients' change feed.

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 \\
        python examples/crm_sync.py CRM0000001 in_transit
    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 \\
        python examples/crm_sync.py --clients crm_clients.json

The first run for a tracking number creates it (201); later runs update it (200), since a duplicate POST
answers 409 with the `existing_id` to PUT to. With --clients, each run pulls the clients created, changed or
deleted since the last run into the JSON file, which keeps the copy and the cursor to start from next time.
Exits 1 on any other error.
"""
import json
import os
import sys
from pathlib import Path

import requests

API_BASE_URL = os.environ.get('TRACKER_API_URL', 'https://your-api-domain.com/api/v1')
API_KEY = os.environ.get('TRACKER_API_KEY', 'tb_your_api_key_here')
BOT_ID = int(os.environ.get('TRACKER_BOT_ID', '123'))
HEADERS = {'X-API-Key': API_KEY}


def upsert_tracking_number(fields):
    """Create the tracking number; if it exists (409), update that one with the other fields. (created, record)"""
    url = f"{API_BASE_URL}/tracking/{BOT_ID}"
    response = requests.post(url, headers=HEADERS, json=fields, timeout=30)
    if response.status_code == 409:
        existing_id = response.json()['existing_id']
        changes = {name: value for name, value in fields.items() if name != 'tracking_number'}
        response = requests.put(f"{url}/{existing_id}", headers=HEADERS, json=changes, timeout=30)
    response.raise_for_status()
    return response.status_code == 201, response.json()


def pull_client_changes(clients, cursor):
    """Apply every client change after `cursor` (None: from the start) to `clients` (id -> client); the cursor
    to keep. Match them to the CRM's customers by `client_code`: a renamed code arrives as a change of the same id."""
    params = {'cursor': cursor} if cursor else {'updated_since': '1970-01-01T00:00:00+00:00'}
    while True:
        response = requests.get(f"{API_BASE_URL}/clients/{BOT_ID}", headers=HEADERS,
                                params={**params, 'page_size': 100}, timeout=30)
        response.raise_for_status()
        page = response.json()
        for tombstone in page['deleted']:  # first: a client in the same page is newer than any tombstone
            clients.pop(str(tombstone['id']), None)
        for client in page['clients']:
            clients[str(client['id'])] = client
        params = {'cursor': page['next_cursor']}
        if not page['has_more']:
            return page['next_cursor']


def sync_clients(path):
    state = json.loads(path.read_text()) if path.exists() else {'cursor': None, 'clients': {}}
    before = dict(state['clients'])
    state['cursor'] = pull_client_changes(state['clients'], state['cursor'])
    path.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    changed = sum(1 for key, client in state['clients'].items() if before.get(key) != client)
    print(f"{len(state['clients'])} clients; {changed} new or changed, "
          f"{len(before.keys() - state['clients'].keys())} deleted since the last run")


def main(tracking_number, status):
    created, record = upsert_tracking_number({
        'tracking_number': tracking_number,
        'client_code': 'CLIENT123',
        'status': status,
        'weight_kg': 2.5,
        'price_per_kg_usd': 14.29,
    })
    print(f"{'Created' if created else 'Updated'} {record['tracking_number']} (id {record['id']}): "
          f"{record['current_status']}, ${record['total_cost_usd']}")


if __name__ == '__main__':
    try:
        if sys.argv[1:2] == ['--clients']:
            sync_clients(Path(sys.argv[2] if len(sys.argv) > 2 else 'crm_clients.json'))
        else:
            main(*(sys.argv[1:3] if len(sys.argv) >= 3 else ('CRM0000001', 'pending')))
    except requests.HTTPError as error:
        sys.exit(f"Error: {error} - {error.response.json().get('detail')}")
    except requests.RequestException as error:
        sys.exit(f"Error: {error}")
