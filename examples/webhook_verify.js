// Verify a webhook's X-Tracker-Signature (Node 18+, no packages), runnable:
//
//   WEBHOOK_SECRET=whsec_... WEBHOOK_SIGNATURE='t=...,v1=...' node examples/webhook_verify.js < body.json
//
// Reads the raw request body on stdin; prints "valid <event type> <event id>" and exits 0, or says why not and
// exits 1. In Express, read the body raw (express.raw({type: 'application/json'})) and verify before parsing.
const crypto = require('crypto');

const TOLERANCE_SECONDS = 300; // refuse signatures older than this: a captured request cannot be replayed later

function verifySignature(secret, header, body, now = Date.now() / 1000) {
  const parts = header.split(',').map((item) => item.split('=', 2)).filter((pair) => pair.length === 2);
  const timestamps = parts.filter(([key]) => key === 't').map(([, value]) => value);
  const signatures = parts.filter(([key]) => key === 'v1').map(([, value]) => value);
  if (timestamps.length !== 1 || !/^\d+$/.test(timestamps[0]) || signatures.length === 0) {
    return false;
  }
  if (Math.abs(now - Number(timestamps[0])) > TOLERANCE_SECONDS) {
    return false;
  }
  const expected = crypto.createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(timestamps[0] + '.'), body]))
    .digest('hex');
  return signatures.some((signature) => signature.length === expected.length
    && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected)));
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const body = Buffer.concat(chunks);
  if (!verifySignature(process.env.WEBHOOK_SECRET, process.env.WEBHOOK_SIGNATURE, body)) {
    console.error('invalid signature: refuse the request (answer 400)');
    process.exit(1);
  }
  const event = JSON.parse(body.toString('utf8'));
  // De-duplicate by event.id: a delivery may arrive twice. Order a parcel's events by event.sequence.
  console.log(`valid ${event.type} ${event.id}`);
});
