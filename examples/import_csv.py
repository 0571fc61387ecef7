"""Importing a CSV file of clients (or tracking numbers) in one request, all rows or none; runnable:

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 python examples/import_csv.py examples/clients.csv

POST /clients/{bot_id}/import with the file as the body (Content-Type: text/csv): each row is created, updated
or left unchanged by its client_code, and one bad row refuses the whole file (422) with every row's errors.
TRACKER_IMPORT=tracking imports tracking numbers instead (rows matched by tracking_number). The request carries
an Idempotency-Key made from the file's bytes, so a retry after a lost answer replays the first answer instead
of importing twice. Exits 1 when the file is refused or on any other error.
"""
import hashlib
import os
import sys

import requests

API_BASE_URL = os.environ.get('TRACKER_API_URL', 'https://your-api-domain.com/api/v1')
API_KEY = os.environ.get('TRACKER_API_KEY', 'tb_your_api_key_here')
BOT_ID = int(os.environ.get('TRACKER_BOT_ID', '123'))


def import_csv(path, what='clients'):
    """POST the CSV file to /{what}/{bot_id}/import: (the answer's JSON, whether every row went in)."""
    with open(path, 'rb') as file:
        body = file.read()  # UTF-8, with or without Excel's byte order mark; at most 1,000 rows and 1 MiB
    headers = {'X-API-Key': API_KEY, 'Content-Type': 'text/csv',
               'Idempotency-Key': 'import-' + hashlib.sha256(body).hexdigest()[:40]}
    for attempt in range(3):  # the same key each time: a retry never imports twice
        try:
            response = requests.post(f"{API_BASE_URL}/{what}/{BOT_ID}/import", headers=headers, data=body,
                                     timeout=60)
            break
        except requests.ConnectionError:
            if attempt == 2:
                raise
    if response.status_code == 422 and 'results' in response.json():
        return response.json(), False  # nothing was imported: the rows' errors say why
    response.raise_for_status()
    return response.json(), True


def main(path):
    answer, imported = import_csv(path, os.environ.get('TRACKER_IMPORT', 'clients'))
    if not imported:
        print(answer['detail'])
        for row in answer['results']:
            if row['result'] == 'error':
                print(f"  row {row['row']}: {row['errors']}")
        return 1
    counts = answer['counts']
    print(f"Imported {path}: {counts['created']} created, {counts['updated']} updated, "
          f"{counts['unchanged']} unchanged")
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'examples/clients.csv'))
    except requests.HTTPError as error:
        sys.exit(f"Error: {error} - {error.response.json().get('detail')}")
    except (requests.RequestException, OSError) as error:
        sys.exit(f"Error: {error}")
