// The GraphQL-over-HTTP specification's conformance audit (graphql-http's
// serverAudits) against a live server:
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Runs every audit, one after another (a one-worker test server answers them in
// turn), and prints one JSON line per audit: {id, name, status, reason}, plus the
// HTTP status and content type of the answer that failed it. Exits 1 when any
// audit's status is not "ok" (a failed MUST is "error", SHOULD "warn", MAY
// "notice"), 2 on bad usage.
import { serverAudits } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 30_000;

const [url, ...rest] = process.argv.slice(2);
if (!url || rest.length || !/^https?:\/\//.test(url)) {
  process.stderr.write('usage: node audit.mjs <GraphQL endpoint URL>\n');
  process.exit(2);
}

// Node 20's global fetch, with a deadline so a server that never answers fails
// the audit instead of hanging it.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

let failed = 0;
for (const { id, name, fn } of serverAudits({ url, fetchFn })) {
  let line;
  try {
    const result = await fn();
    line = { id, name, status: result.status, reason: result.reason ?? null };
    if (result.status !== 'ok' && result.response) {
      line.http = {
        status: result.response.status,
        contentType: result.response.headers.get('content-type'),
      };
    }
  } catch (error) {
    // graphql-http throws only on what it calls fatal (the request itself failed).
    const cause = error?.cause ? ` (${error.cause.message ?? error.cause})` : '';
    line = { id, name, status: 'error', reason: `fatal: ${error?.message ?? error}${cause}` };
  }
  if (line.status !== 'ok') failed += 1;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
process.exitCode = failed ? 1 : 0;
