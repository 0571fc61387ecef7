"""The product document's Python (requests) example, runnable:

    TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 python examples/tracking.py

Creates a tracking number for CLIENT123, then reads CLIENT123's tracking numbers. Exits 1 on any error.
"""
import os
import sys
import time

import requests

# Конфигурация
API_BASE_URL = os.environ.get('TRACKER_API_URL', 'https://your-api-domain.com/api/v1')
API_KEY = os.environ.get('TRACKER_API_KEY', 'tb_your_api_key_here')
BOT_ID = int(os.environ.get('TRACKER_BOT_ID', '123'))


# Получение трек-номеров клиента
def get_tracking_numbers(client_code):
    url = f"{API_BASE_URL}/tracking/{BOT_ID}"
    headers = {
        'X-API-Key': API_KEY,
        'Content-Type': 'application/json'
    }
    params = {'client_code': client_code}

    response = requests.get(url, headers=headers, params=params)
    response.raise_for_status()

    data = response.json()
    return data['tracking_numbers']


# Создание трек-номера
def create_tracking_number(tracking_data):
    url = f"{API_BASE_URL}/tracking/{BOT_ID}"
    headers = {
        'X-API-Key': API_KEY,
        'Content-Type': 'application/json'
    }

    response = requests.post(url, headers=headers, json=tracking_data)
    response.raise_for_status()

    return response.json()


def main():
    created = create_tracking_number({
        'tracking_number': f'PY{time.time_ns() // 1_000_000}',  # unique, so the example can run again
        'client_code': 'CLIENT123',
        'status': 'pending',
        'quantity': 5,
        'weight_kg': 10.5,
        'price_per_kg_usd': 14.29,
        'total_cost_usd': 150.00,
        'note': 'Хрупкое',
    })
    print(f"Created {created['tracking_number']} (id {created['id']}, {created['current_status']})")

    tracking_numbers = get_tracking_numbers('CLIENT123')
    print(f"CLIENT123 has {len(tracking_numbers)} tracking number(s) on the first page:")
    for item in tracking_numbers:
        print(f"  {item['tracking_number']}  {item['current_status']}  "
              f"{item['weight_kg']} kg  ${item['total_cost_usd']}")
    if not any(item['id'] == created['id'] for item in tracking_numbers):
        raise RuntimeError(f"{created['tracking_number']} is missing from CLIENT123's tracking numbers")


if __name__ == '__main__':
    try:
        main()
    except requests.HTTPError as error:  # the API explains every error in the body's `detail`
        sys.exit(f"Error: {error} - {error.response.json().get('detail')}")
    except (requests.RequestException, RuntimeError) as error:
        sys.exit(f"Error: {error}")
