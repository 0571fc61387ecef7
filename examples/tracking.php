<?php
// The product document's PHP (cURL) example, runnable with php-cli and its curl extension:
//
//   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 php examples/tracking.php
//
// Creates a tracking number for CLIENT123, then reads CLIENT123's tracking numbers. Exits 1 on any error.

// Конфигурация
$apiBaseUrl = getenv('TRACKER_API_URL') ?: 'https://your-api-domain.com/api/v1';
$apiKey = getenv('TRACKER_API_KEY') ?: 'tb_your_api_key_here';
$botId = (int) (getenv('TRACKER_BOT_ID') ?: 123);

// Получение трек-номеров клиента
function getTrackingNumbers($clientCode) {
  global $apiBaseUrl, $apiKey, $botId;

  $url = "$apiBaseUrl/tracking/$botId?client_code=" . urlencode($clientCode);

  $ch = curl_init($url);
  curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
  curl_setopt($ch, CURLOPT_HTTPHEADER, [
    "X-API-Key: $apiKey",
    "Content-Type: application/json"
  ]);

  $response = curl_exec($ch);
  $httpCode = curl_getinfo($ch, CURLINFO_HTTP_CODE);
  curl_close($ch);

  if ($httpCode !== 200) {
    throw new Exception("HTTP error! status: $httpCode");
  }

  return json_decode($response, true);
}

// Создание трек-номера
function createTrackingNumber($trackingData) {
  global $apiBaseUrl, $apiKey, $botId;

  $url = "$apiBaseUrl/tracking/$botId";

  $ch = curl_init($url);
  curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
  curl_setopt($ch, CURLOPT_POST, true);
  curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($trackingData));
  curl_setopt($ch, CURLOPT_HTTPHEADER, [
    "X-API-Key: $apiKey",
    "Content-Type: application/json"
  ]);

  $response = curl_exec($ch);
  $httpCode = curl_getinfo($ch, CURLINFO_HTTP_CODE);
  curl_close($ch);

  if ($httpCode !== 200 && $httpCode !== 201) {
    throw new Exception("HTTP error! status: $httpCode");
  }

  return json_decode($response, true);
}

try {
  $created = createTrackingNumber([
    'tracking_number' => 'PHP' . (int) round(microtime(true) * 1000),  // unique, so the example can run again
    'client_code' => 'CLIENT123',
    'status' => 'pending',
    'quantity' => 5,
    'weight_kg' => 10.5,
    'price_per_kg_usd' => 14.29,
    'total_cost_usd' => 150.00,
    'note' => 'Хрупкое'
  ]);
  echo "Created {$created['tracking_number']} (id {$created['id']}, {$created['current_status']})\n";

  $data = getTrackingNumbers('CLIENT123');
  echo "CLIENT123 has " . count($data['tracking_numbers']) . " tracking number(s) on the first page:\n";
  foreach ($data['tracking_numbers'] as $item) {
    echo "  {$item['tracking_number']}  {$item['current_status']}  "
      . "{$item['weight_kg']} kg  \${$item['total_cost_usd']}\n";
  }
  if (!in_array($created['id'], array_column($data['tracking_numbers'], 'id'), true)) {
    throw new Exception("{$created['tracking_number']} is missing from CLIENT123's tracking numbers");
  }
} catch (Exception $e) {
  fwrite(STDERR, "Error: " . $e->getMessage() . "\n");
  exit(1);
}
