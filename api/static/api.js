// Requests to the API: JSON answers, or an ApiError that says what went wrong in words.

export const UNREACHABLE = "The search service is not reachable. Check that it is running, then try again.";

export class ApiError extends Error {}

export async function getJson(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(UNREACHABLE);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (err.name === "AbortError") throw err;
  }
  if (!response.ok) {
    const said = body && typeof body.error === "string" && body.error;
    throw new ApiError(said || `The search service answered with status ${response.status}.`);
  }
  if (body === null) throw new ApiError("The search service sent an answer that is not JSON.");
  return body;
}

export function messageOf(err) {
  return err instanceof ApiError ? err.message : UNREACHABLE;
}
