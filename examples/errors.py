"""Reading the API's errors, runnable: every error is application/problem+json with a human-readable `detail`
(and, for a 422, `errors` by field); a 429 says in Retry-After how many seconds to wait.

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 python examples/errors.py

Asks for a tracking number that does not exist, then for a page size the API refuses, and prints both problems;
then reads the first page, waiting out a 429 for at most TRACKER_MAX_WAIT seconds (default 60). Exits 1 on an
unexpected error, printing its detail and request id.
"""
import os
import sys
import time

import requests

API_BASE_URL = os.environ.get('TRACKER_API_URL', 'https://your-api-domain.com/api/v1')
API_KEY = os.environ.get('TRACKER_API_KEY', 'tb_your_api_key_here')
BOT_ID = int(os.environ.get('TRACKER_BOT_ID', '123'))
MAX_WAIT = int(os.environ.get('TRACKER_MAX_WAIT', '60'))


class ApiError(Exception):
    """An error answer: its HTTP status, its problem details and the request id to quote to support."""

    def __init__(self, response):
        is_problem = response.headers.get('Content-Type', '').startswith('application/problem+json')
        self.problem = response.json() if is_problem else {}
        self.status = response.status_code
        self.request_id = response.headers.get('X-Request-ID')
        super().__init__(f"{self.status}: {self.problem.get('detail') or response.reason}")


def api_get(path, params=None):
    """GET an API path; on 429, wait as long as Retry-After says (if at most MAX_WAIT s) and try again."""
    while True:
        response = requests.get(f"{API_BASE_URL}{path}", headers={'X-API-Key': API_KEY},
                                params=params, timeout=30)
        if response.status_code == 429:
            wait = int(response.headers['Retry-After'])
            if wait <= MAX_WAIT:
                print(f"Rate limited; retrying in {wait} s", file=sys.stderr)
                time.sleep(wait)
                continue
        if not response.ok:
            raise ApiError(response)
        return response.json()


def main():
    try:
        api_get(f"/tracking/{BOT_ID}/999999999")
    except ApiError as error:
        if error.status != 404:
            raise
        print(f"Not found as expected: {error} (request id {error.request_id})")

    try:
        api_get(f"/tracking/{BOT_ID}", {'page_size': 500})
    except ApiError as error:
        if error.status != 422:
            raise
        for field, messages in error.problem['errors'].items():
            print(f"Refused as expected: {field}: {' '.join(messages)}")

    data = api_get(f"/tracking/{BOT_ID}", {'page': 1, 'page_size': 5})
    print(f"Read {len(data['tracking_numbers'])} of {data['total']} tracking numbers")


if __name__ == '__main__':
    try:
        main()
    except ApiError as error:
        sys.exit(f"Error: {error} (request id {error.request_id})")
    except requests.RequestException as error:
        sys.exit(f"Error: {error}")
