"""Pushing a parcel from a CRM, runnable: create the tracking number, or update it when the bot already has it.

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 \\
        python examples/crm_sync.py CRM0000001 in_transit

The first run for a tracking number creates it (201); later runs update it (200), since a duplicate POST
answers 409 with the `existing_id` to PUT to. Exits 1 on any other error.
"""
import os
import sys

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
        main(*(sys.argv[1:3] if len(sys.argv) >= 3 else ('CRM0000001', 'pending')))
    except requests.HTTPError as error:
        sys.exit(f"Error: {error} - {error.response.json().get('detail')}")
    except requests.RequestException as error:
        sys.exit(f"Error: {error}")
