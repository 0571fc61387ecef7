<?php
// A client's parcel history for a company's website, rendered on the server with PHP's cURL (the API key stays
// on the server: never put it in a page's JavaScript). Runnable with php-cli and its curl extension:
//
//   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 \
//     php examples/parcel_history.php CLIENT123 > history.html
//
// As a page: php -S 127.0.0.1:8080 examples/parcel_history.php, then /?client_code=CLIENT123. Exits 1 on error.

$apiBaseUrl = getenv('TRACKER_API_URL') ?: 'https://your-api-domain.com/api/v1';
$apiKey = getenv('TRACKER_API_KEY') ?: 'tb_your_api_key_here';
$botId = (int) (getenv('TRACKER_BOT_ID') ?: 123);

// One client's tracking numbers, newest first: the API's problem `detail` becomes the exception's message.
function getClientParcels($clientCode) {
  global $apiBaseUrl, $apiKey, $botId;

  $ch = curl_init("$apiBaseUrl/tracking/$botId/by-client/" . rawurlencode($clientCode) . "?page_size=100");
  curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
  curl_setopt($ch, CURLOPT_TIMEOUT, 30);
  curl_setopt($ch, CURLOPT_HTTPHEADER, ["X-API-Key: $apiKey"]);
  $response = curl_exec($ch);
  $httpCode = curl_getinfo($ch, CURLINFO_HTTP_CODE);
  curl_close($ch);

  $data = json_decode($response, true);
  if ($httpCode !== 200) {
    throw new Exception($data['detail'] ?? "HTTP error! status: $httpCode");
  }
  return $data;
}

function renderHistory($clientCode, $data) {
  $rows = '';
  foreach ($data['tracking_numbers'] as $item) {
    $rows .= sprintf("  <tr><td>%s</td><td>%s</td><td>%s kg</td><td>%s</td></tr>\n",
      htmlspecialchars($item['tracking_number']), htmlspecialchars($item['current_status']),
      htmlspecialchars((string) $item['weight_kg']), htmlspecialchars(substr($item['updated_at'], 0, 10)));
  }
  return "<h2>Parcels of " . htmlspecialchars($clientCode) . " ({$data['total']})</h2>\n"
    . "<table>\n  <tr><th>Tracking number</th><th>Status</th><th>Weight</th><th>Updated</th></tr>\n"
    . $rows . "</table>\n";
}

$clientCode = $argv[1] ?? ($_GET['client_code'] ?? 'CLIENT123');
try {
  echo renderHistory($clientCode, getClientParcels($clientCode));
} catch (Exception $e) {
  fwrite(STDERR, "Error: " . $e->getMessage() . "\n");
  exit(1);
}
