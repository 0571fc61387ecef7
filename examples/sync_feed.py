"""Keeping a copy of a bot's tracking numbers in step with the change feed, runnable: each run pulls what
changed since the last one (new, changed and deleted parcels) into a JSON file.

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 \\
        python examples/sync_feed.py parcels.json

The first run starts from the beginning (`updated_since` far in the past); the file keeps the copy and the
`next_cursor` to start from next time. Run it every few minutes: nothing is missed, even while the bot writes.
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


def pull_changes(copy, cursor):
    """Apply every change after `cursor` (None: from the start) to `copy` (id -> record); the cursor to keep."""
    params = {'cursor': cursor} if cursor else {'updated_since': '1970-01-01T00:00:00+00:00'}
    while True:
        response = requests.get(f"{API_BASE_URL}/tracking/{BOT_ID}", headers=HEADERS,
                                params={**params, 'page_size': 100}, timeout=30)
        response.raise_for_status()
        page = response.json()
        for tombstone in page['deleted']:  # first: a record in the same page is newer than any tombstone
            copy.pop(str(tombstone['id']), None)
        for record in page['tracking_numbers']:
            copy[str(record['id'])] = record
        params = {'cursor': page['next_cursor']}
        if not page['has_more']:
            return page['next_cursor']


def main(path):
    state = json.loads(path.read_text()) if path.exists() else {'cursor': None, 'tracking_numbers': {}}
    before = dict(state['tracking_numbers'])
    state['cursor'] = pull_changes(state['tracking_numbers'], state['cursor'])
    path.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    changed = sum(1 for key, record in state['tracking_numbers'].items() if before.get(key) != record)
    print(f"{len(state['tracking_numbers'])} tracking numbers; {changed} new or changed, "
          f"{len(before.keys() - state['tracking_numbers'].keys())} deleted since the last run")


if __name__ == '__main__':
    try:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else 'parcels.json'))
    except requests.HTTPError as error:
        sys.exit(f"Error: {error.response.json().get('detail', error)}")
