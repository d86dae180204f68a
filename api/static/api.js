// Requests to the API: JSON answers, or an ApiError that says what went wrong in words.

export const UNREACHABLE = "The search service is not reachable. Check that it is running, then try again.";

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status; // the HTTP status; 0 when no answer came
  }
}

export async function getJson(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(UNREACHABLE);
  }
  return answerOf(response);
}

// POST `body` as JSON (with `headers`, e.g. the API key) and read the JSON answer.
export async function postJson(url, body, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(UNREACHABLE);
  }
  return answerOf(response);
}

// The JSON of an answer, or an ApiError with the API's own message.
async function answerOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (err.name === "AbortError") throw err;
  }
  if (!response.ok) {
    const said = body && typeof body.error === "string" && body.error;
    throw new ApiError(said || `The search service answered with status ${response.status}.`, response.status);
  }
  if (body === null) throw new ApiError("The search service sent an answer that is not JSON.");
  return body;
}

export function messageOf(err) {
  return err instanceof ApiError ? err.message : UNREACHABLE;
}

// A request the API refused as given (422): what to change, in words, or null for any other
// error. The query's length limit is the API's own, read from its message.
export function refusalOf(err, query = "") {
  if (!(err instanceof ApiError) || err.status !== 422) return null;
  const long = /^q: .*at most (\d+) characters/.exec(err.message);
  if (!long) {
    // "q: at character 9 ('year:20x4'): year: must be …": the query is the field being read
    const said = err.message.replace(/^q: /, "");
    return said[0].toLocaleUpperCase("en") + said.slice(1);
  }
  const most = Number(long[1]).toLocaleString("en");
  const has = [...query].length.toLocaleString("en");
  return `Queries are at most ${most} characters; this one has ${has}. Shorten it to search.`;
}
