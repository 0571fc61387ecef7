// The product document's JavaScript (Fetch API) example, runnable with Node 18+ (fetch is built in):
//
//   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 node examples/tracking.js
//
// Creates a tracking number for CLIENT123, then reads CLIENT123's tracking numbers. Exits 1 on any error.

// Конфигурация
const API_BASE_URL = process.env.TRACKER_API_URL || 'https://your-api-domain.com/api/v1';
const API_KEY = process.env.TRACKER_API_KEY || 'tb_your_api_key_here';
const BOT_ID = Number(process.env.TRACKER_BOT_ID || 123);

// Получение трек-номеров клиента
async function getTrackingNumbers(clientCode) {
  const response = await fetch(
    `${API_BASE_URL}/tracking/${BOT_ID}?client_code=${clientCode}`,
    {
      method: 'GET',
      headers: {
        'X-API-Key': API_KEY,
        'Content-Type': 'application/json'
      }
    }
  );

  if (!response.ok) {
    throw new Error(`HTTP error! status: ${response.status}`);
  }

  const data = await response.json();
  return data.tracking_numbers;
}

// Создание трек-номера
async function createTrackingNumber(trackingData) {
  const response = await fetch(
    `${API_BASE_URL}/tracking/${BOT_ID}`,
    {
      method: 'POST',
      headers: {
        'X-API-Key': API_KEY,
        'Content-Type': 'application/json'
      },
      body: JSON.stringify(trackingData)
    }
  );

  if (!response.ok) {
    const error = await response.json();
    throw new Error(error.detail || `HTTP error! status: ${response.status}`);
  }

  return await response.json();
}

async function main() {
  const created = await createTrackingNumber({
    tracking_number: `JS${Date.now()}`,  // unique, so the example can run again
    client_code: 'CLIENT123',
    status: 'pending',
    quantity: 5,
    weight_kg: 10.5,
    price_per_kg_usd: 14.29,
    total_cost_usd: 150.00,
    note: 'Хрупкое'
  });
  console.log(`Created ${created.tracking_number} (id ${created.id}, ${created.current_status})`);

  const trackingNumbers = await getTrackingNumbers('CLIENT123');
  console.log(`CLIENT123 has ${trackingNumbers.length} tracking number(s) on the first page:`);
  for (const item of trackingNumbers) {
    console.log(`  ${item.tracking_number}  ${item.current_status}  ${item.weight_kg} kg  $${item.total_cost_usd}`);
  }
  if (!trackingNumbers.some((item) => item.id === created.id)) {
    throw new Error(`${created.tracking_number} is missing from CLIENT123's tracking numbers`);
  }
}

main().catch((error) => {
  console.error(`Error: ${error.message}`);
  process.exit(1);
});
