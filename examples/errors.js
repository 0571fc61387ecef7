// Reading the API's errors with fetch, runnable with Node 18+: every error is application/problem+json with a
// human-readable `detail`; a 429 says in Retry-After how many seconds to wait.
//
//   TRACKER_API_URL=http://127.0.0.1:8000/api/v1 TRACKER_API_KEY=tb_... TRACKER_BOT_ID=123 node examples/errors.js
//
// Asks for a tracking number that does not exist and prints the problem, then reads the first page, waiting
// out a 429 for at most TRACKER_MAX_WAIT seconds (default 60). Exits 1 on an unexpected error.

const API_BASE_URL = process.env.TRACKER_API_URL || 'https://your-api-domain.com/api/v1';
const API_KEY = process.env.TRACKER_API_KEY || 'tb_your_api_key_here';
const BOT_ID = Number(process.env.TRACKER_BOT_ID || 123);
const MAX_WAIT = Number(process.env.TRACKER_MAX_WAIT || 60);

class ApiError extends Error {
  constructor(response, problem) {
    super(`${response.status}: ${problem.detail || response.statusText}`);
    this.status = response.status;
    this.problem = problem;
    this.requestId = response.headers.get('X-Request-ID');
  }
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// GET an API path; on 429, wait as long as Retry-After says (if at most MAX_WAIT s) and try again.
async function apiGet(path) {
  for (;;) {
    const response = await fetch(`${API_BASE_URL}${path}`, { headers: { 'X-API-Key': API_KEY } });
    if (response.status === 429) {
      const wait = Number(response.headers.get('Retry-After'));
      if (wait <= MAX_WAIT) {
        console.error(`Rate limited; retrying in ${wait} s`);
        await sleep(wait);
        continue;
      }
    }
    if (!response.ok) {
      const isProblem = (response.headers.get('Content-Type') || '').startsWith('application/problem+json');
      throw new ApiError(response, isProblem ? await response.json() : {});
    }
    return await response.json();
  }
}

async function main() {
  try {
    await apiGet(`/tracking/${BOT_ID}/999999999`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    console.log(`Not found as expected: ${error.message} (request id ${error.requestId})`);
  }

  const data = await apiGet(`/tracking/${BOT_ID}?page=1&page_size=5`);
  console.log(`Read ${data.tracking_numbers.length} of ${data.total} tracking numbers`);
}

main().catch((error) => {
  console.error(`Error: ${error.message}${error.requestId ? ` (request id ${error.requestId})` : ''}`);
  process.exit(1);
});
