"""Exporting every tracking number page by page (e.g. into a CRM), runnable; writes CSV to stdout:

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 python examples/export.py > parcels.csv

Optional: TRACKER_STATUS_FILTER (e.g. in_transit) exports one status only; TRACKER_PAGE_SIZE (1-100, default
100) sets the page size. Exits 1 on any error.
"""
import csv
import os
import sys

import requests

API_BASE_URL = os.environ.get('TRACKER_API_URL', 'https://your-api-domain.com/api/v1')
API_KEY = os.environ.get('TRACKER_API_KEY', 'tb_your_api_key_here')
BOT_ID = int(os.environ.get('TRACKER_BOT_ID', '123'))
PAGE_SIZE = int(os.environ.get('TRACKER_PAGE_SIZE', '100'))  # at most 100
COLUMNS = ['id', 'tracking_number', 'client_code', 'current_status', 'quantity', 'weight_kg',
           'price_per_kg_usd', 'total_cost_usd', 'note', 'created_at', 'updated_at']


def iter_tracking_numbers(**filters):
    """Every tracking number (newest first), page by page, until `total` are read. A number created meanwhile
    shifts the pages by one, so an item may come twice: skip ids already seen."""
    page, seen = 1, set()
    while True:
        response = requests.get(f"{API_BASE_URL}/tracking/{BOT_ID}", headers={'X-API-Key': API_KEY},
                                params={'page': page, 'page_size': PAGE_SIZE, **filters}, timeout=30)
        response.raise_for_status()
        data = response.json()
        for item in data['tracking_numbers']:
            if item['id'] not in seen:
                seen.add(item['id'])
                yield item
        if not data['tracking_numbers'] or page * PAGE_SIZE >= data['total']:
            return
        page += 1


def main():
    status_filter = os.environ.get('TRACKER_STATUS_FILTER')
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction='ignore')
    writer.writeheader()
    count = 0
    for item in iter_tracking_numbers(**({'status_filter': status_filter} if status_filter else {})):
        writer.writerow(item)
        count += 1
    print(f"Exported {count} tracking number(s)", file=sys.stderr)


if __name__ == '__main__':
    try:
        main()
    except requests.HTTPError as error:
        sys.exit(f"Error: {error} - {error.response.json().get('detail')}")
    except requests.RequestException as error:
        sys.exit(f"Error: {error}")
