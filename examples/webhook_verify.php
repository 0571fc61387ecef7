<?php
// Verify a webhook's X-Tracker-Signature (php-cli, no extensions beyond the standard ones), runnable:
//
//   WEBHOOK_SECRET=whsec_... WEBHOOK_SIGNATURE='t=...,v1=...' php examples/webhook_verify.php < body.json
//
// Reads the raw request body on stdin; prints "valid <event type> <event id>" and exits 0, or says why not and
// exits 1. In a web app: $body = file_get_contents('php://input'); $header = $_SERVER['HTTP_X_TRACKER_SIGNATURE'];

const TOLERANCE_SECONDS = 300; // refuse signatures older than this: a captured request cannot be replayed later

function verifySignature($secret, $header, $body, $now = null) {
  $timestamps = [];
  $signatures = [];
  foreach (explode(',', $header) as $item) {
    $pair = explode('=', $item, 2);
    if (count($pair) !== 2) continue;
    if ($pair[0] === 't') $timestamps[] = $pair[1];
    if ($pair[0] === 'v1') $signatures[] = $pair[1];
  }
  if (count($timestamps) !== 1 || !ctype_digit($timestamps[0]) || count($signatures) === 0) {
    return false;
  }
  if (abs(($now ?? time()) - (int) $timestamps[0]) > TOLERANCE_SECONDS) {
    return false;
  }
  $expected = hash_hmac('sha256', $timestamps[0] . '.' . $body, $secret);
  foreach ($signatures as $signature) {
    if (hash_equals($expected, $signature)) return true;
  }
  return false;
}

$body = file_get_contents('php://stdin');
if (!verifySignature(getenv('WEBHOOK_SECRET'), getenv('WEBHOOK_SIGNATURE'), $body)) {
  fwrite(STDERR, "invalid signature: refuse the request (answer 400)\n");
  exit(1);
}
$event = json_decode($body, true);
// De-duplicate by $event['id']: a delivery may arrive twice. Order a parcel's events by $event['sequence'].
echo "valid {$event['type']} {$event['id']}\n";
