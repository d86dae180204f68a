// "Follow this search": the current query, its mode and filters saved on the server as an alert
// (POST /alerts, with the API key), and the address of its Atom feed shown with a Copy button.
// The key is asked once per tab (a dialog) and kept in sessionStorage: never in the URL or
// localStorage, gone when the tab closes.

import { ApiError, messageOf, postJson } from "./api.js";
import { copyText } from "./cite.js";
import { FILTERS, MODES, MULTI } from "./state.js";

const KEY = "policy-search.api-key";

const $ = (id) => document.getElementById(id);
const el = {
  box: $("follow"), button: $("follow-button"), status: $("follow-status"), error: $("follow-error"),
  feed: $("follow-feed"), url: $("follow-url"), copy: $("follow-copy"), copied: $("follow-copied"),
  dialog: $("key-dialog"), form: $("key-form"), key: $("key"), keyError: $("key-error"),
  cancel: $("key-cancel"),
};

let current = null; // the search the button follows (the page's state)
let shown = "";     // the body of the search whose feed is shown
let busy = false;

function storedKey() {
  try {
    return sessionStorage.getItem(KEY) || "";
  } catch {
    return ""; // no storage: the key is asked each time
  }
}

function keepKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  } catch {
    // no storage: nothing kept
  }
}

// POST /alerts' body: the query, its mode and confidence floor, and each filter that is set.
export function alertBody(s) {
  const body = { q: s.q, mode: s.mode || MODES[0] };
  if (s.min_confidence) body.min_confidence = Number(s.min_confidence);
  for (const f of FILTERS) if (s[f]) body[f] = s[f];
  for (const f of MULTI) if (s[f].length) body[f] = [...s[f]];
  return body;
}

// Show the button for the search `s` (hidden with no query); a feed shown for another search goes.
export function showFollow(s) {
  current = s && s.q ? s : null;
  el.box.hidden = !current;
  el.button.disabled = !current || busy;
  if (!current || JSON.stringify(alertBody(current)) !== shown) {
    el.feed.hidden = true;
    el.error.hidden = true;
    el.status.textContent = "";
    shown = "";
  }
}

export function hideFollow() {
  showFollow(null);
}

function showProblem(message) {
  el.error.textContent = message;
  el.error.hidden = false;
  el.status.textContent = "";
}

// The key dialog, with `problem` said in it (a refused key); resolves to the key, or "" if cancelled.
function askKey(problem = "") {
  el.key.value = "";
  el.keyError.textContent = problem;
  el.keyError.hidden = !problem;
  el.key.setAttribute("aria-invalid", String(Boolean(problem)));
  return new Promise((resolve) => {
    const done = () => {
      el.dialog.removeEventListener("close", done);
      resolve(el.dialog.returnValue === "follow" ? el.key.value.trim() : "");
    };
    el.dialog.addEventListener("close", done);
    el.dialog.returnValue = "";
    el.dialog.showModal();
    el.key.focus();
  });
}

// What a refusal of POST /alerts means for the person at the page, in words.
function refusal(err) {
  if (!(err instanceof ApiError)) return { message: messageOf(err) };
  if (err.status === 403 && /disabled/.test(err.message)) {
    return { message: "This server does not save searches: it was started without an API key (POLICY_SEARCH_API_KEY)." };
  }
  if (err.status === 401 || err.status === 403) {
    return { key: err.status === 401 ? "The server needs an API key to save a search." : "The server refused this API key: check it and try again." };
  }
  // 422: the query or its filters; 409: the server's limit of saved alerts, each said by it
  if (err.status === 422 || err.status === 409) return { message: `The search could not be followed: ${err.message}` };
  return { message: err.message };
}

async function follow() {
  if (!current || busy) return;
  const s = current;
  const body = alertBody(s);
  let key = storedKey();
  let problem = "";
  busy = true;
  el.button.disabled = true;
  el.error.hidden = true;
  try {
    for (;;) {
      if (!key) key = await askKey(problem);
      if (!key) {
        el.status.textContent = problem ? "" : "Not followed: no API key given.";
        return;
      }
      el.status.textContent = "Saving…";
      try {
        const created = await postJson("/alerts", body, { Authorization: `Bearer ${key}` });
        keepKey(key);
        if (current === s) showFeed(created.feed, body);
        return;
      } catch (err) {
        const said = refusal(err);
        if (!said.key) {
          if (current === s) showProblem(said.message);
          return;
        }
        keepKey("");
        key = "";
        problem = said.key;
      }
    }
  } finally {
    busy = false;
    el.button.disabled = !current;
    if (el.status.textContent === "Saving…") el.status.textContent = "";
  }
}

function showFeed(url, body) {
  shown = JSON.stringify(body);
  el.url.value = url;
  el.copied.textContent = "";
  el.feed.hidden = false;
  el.status.textContent = "Saved: its feed's address is below.";
  el.url.focus();
  el.url.select();
}

el.button.addEventListener("click", follow);
el.copy.addEventListener("click", () => copyText(el.url.value, (t) => { el.copied.textContent = t === "Copied." ? "Feed address copied." : t; }));
el.cancel.addEventListener("click", () => el.dialog.close(""));
el.form.addEventListener("submit", (event) => {
  if (!el.key.value.trim()) {
    event.preventDefault();
    el.keyError.textContent = "Enter the API key, or cancel.";
    el.keyError.hidden = false;
    el.key.setAttribute("aria-invalid", "true");
  }
});
