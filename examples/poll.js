// Live status updates for a website widget or a mobile app's backend, with fetch (Node 18+): poll one client's
// tracking numbers and report every status change. Runnable:
//
//   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 node examples/poll.js CLIENT123
//
// TRACKER_POLL_SECONDS (default 60) between rounds, TRACKER_POLL_ROUNDS (default: forever). Exits 1 on error.

const API_BASE_URL = process.env.TRACKER_API_URL || 'https://your-api-domain.com/api/v1';
const API_KEY = process.env.TRACKER_API_KEY || 'tb_your_api_key_here';
const BOT_ID = Number(process.env.TRACKER_BOT_ID || 123);
const POLL_SECONDS = Number(process.env.TRACKER_POLL_SECONDS || 60);
const POLL_ROUNDS = Number(process.env.TRACKER_POLL_ROUNDS || Infinity);

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// One client's tracking numbers (newest 100), and how many requests this key has left this minute.
async function fetchClientParcels(clientCode) {
  const response = await fetch(
    `${API_BASE_URL}/tracking/${BOT_ID}/by-client/${encodeURIComponent(clientCode)}?page_size=100`,
    { headers: { 'X-API-Key': API_KEY } }
  );
  if (!response.ok) {
    const problem = await response.json();
    throw new Error(problem.detail || `HTTP error! status: ${response.status}`);
  }
  const data = await response.json();
  return { parcels: data.tracking_numbers, remaining: Number(response.headers.get('X-RateLimit-Remaining')) };
}

// Compare with the previous round: a parcel that is new, or whose status changed.
function changesBetween(previous, parcels) {
  return parcels
    .filter((parcel) => previous.get(parcel.id)?.current_status !== parcel.current_status)
    .map((parcel) => ({ parcel, before: previous.get(parcel.id)?.current_status }));
}

async function main(clientCode) {
  let previous = new Map();
  for (let round = 1; round <= POLL_ROUNDS; round += 1) {
    const { parcels, remaining } = await fetchClientParcels(clientCode);
    for (const { parcel, before } of changesBetween(previous, parcels)) {
      console.log(`${parcel.tracking_number}: ${before ? `${before} -> ` : ''}${parcel.current_status}`);
    }
    previous = new Map(parcels.map((parcel) => [parcel.id, parcel]));
    console.log(`round ${round}: ${parcels.length} parcel(s), ${remaining} request(s) left this minute`);
    if (round < POLL_ROUNDS) await sleep(POLL_SECONDS);
  }
}

main(process.argv[2] || 'CLIENT123').catch((error) => {
  console.error(`Error: ${error.message}`);
  process.exit(1);
});
