// The page's state is the URL's query string: read it, write it, and turn it into API queries.

// What the API offers (GET /search/options, `learnOptions`), each list in the API's order, the
// default first: modes and orders by name, the filters the page's state holds (single-valued,
// and those that repeat), and every facet, asked for together.
export let MODES = [];
export let SORTS = [];
export let FILTERS = [];
export let MULTI = [];
export let FACETS = "";

// Learn the API's lists (null when they could not be read: the page offers no choices).
export function learnOptions(options) {
  const o = options || { modes: [], sorts: [], filters: [], facets: [] };
  MODES = o.modes.map((m) => m.name);
  SORTS = o.sorts.map((m) => m.name);
  // `article` in the page's URL is the article being read, not the filter of that name.
  const held = o.filters.filter((f) => f.request && f.name !== "article");
  FILTERS = held.filter((f) => !f.many).map((f) => f.name);
  MULTI = held.filter((f) => f.many).map((f) => f.name);
  FACETS = o.facets.map((f) => f.name).join(",");
}

export function readState(search) {
  const p = new URLSearchParams(search);
  const mode = p.get("mode");
  const sort = p.get("sort");
  const page = parseInt(p.get("page") || "1", 10);
  const start = parseInt(p.get("start") || "", 10);
  const end = parseInt(p.get("end") || "", 10);
  const state = {
    q: (p.get("q") || "").trim(),
    mode: MODES.includes(mode) ? mode : MODES[0],
    sort: SORTS.includes(sort) ? sort : SORTS[0],
    page: page >= 1 ? page : 1,
    article: p.get("article") || "",
    start: Number.isFinite(start) ? start : null,
    end: Number.isFinite(end) ? end : null,
    // "0" shows the loosely related hits too (the API's `min_confidence`); "" is the server's floor.
    min_confidence: /^(0(\.\d+)?|1(\.0+)?)$/.test(p.get("min_confidence") || "") ? p.get("min_confidence") : "",
  };
  for (const f of FILTERS) state[f] = (p.get(f) || "").trim();
  for (const f of MULTI) state[f] = [...new Set(p.getAll(f).map((c) => c.trim()).filter(Boolean))];
  return state;
}

// The state's filters as parameters of `p`, in the API's order (a repeated one repeated).
function setFilters(p, s) {
  for (const f of FILTERS) if (s[f]) p.set(f, s[f]);
  for (const f of MULTI) for (const value of s[f]) p.append(f, value);
}

export function toUrl(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  setFilters(p, s);
  if (s.mode !== MODES[0]) p.set("mode", s.mode);
  if (s.sort !== SORTS[0]) p.set("sort", s.sort);
  if (s.min_confidence) p.set("min_confidence", s.min_confidence);
  if (s.page > 1) p.set("page", String(s.page));
  if (s.article) {
    p.set("article", s.article);
    if (s.start !== null && s.end !== null) {
      p.set("start", String(s.start));
      p.set("end", String(s.end));
    }
  }
  const qs = p.toString();
  return qs ? `/?${qs}` : "/";
}

// The same search, out of any article view.
export function searchState(s) {
  return { ...s, article: "", start: null, end: null };
}

// The search with filters changed: back to its first page.
export function refined(s, changes) {
  return { ...searchState(s), ...changes, page: 1 };
}

export function isFiltered(s) {
  return FILTERS.some((f) => s[f]) || MULTI.some((f) => s[f].length > 0);
}

// Every filter cleared (the page's own `min_confidence` aside).
export function unfiltered() {
  return Object.fromEntries([...FILTERS.map((f) => [f, ""]), ...MULTI.map((f) => [f, []])]);
}

// /search for the state's query, mode, order and filters, plus `extra` parameters.
export function searchUrl(s, extra = {}) {
  const p = new URLSearchParams({ q: s.q, mode: s.mode });
  setFilters(p, s);
  if (s.sort !== SORTS[0]) p.set("sort", s.sort);
  if (s.min_confidence) p.set("min_confidence", s.min_confidence);
  for (const [key, value] of Object.entries(extra)) {
    if (value === null) p.delete(key);
    else p.set(key, String(value));
  }
  return `/search?${p}`;
}

export function articleUrl(id) {
  return `/articles/${id.split("/").map(encodeURIComponent).join("/")}`;
}

// A date filter as the first and last day it covers ("2024" → 2024-01-01 … 2024-12-31), or null.
function dayRange(value) {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (!m) return null;
  const [, y, mo, d] = m;
  if (d) return [`${y}-${mo}-${d}`, `${y}-${mo}-${d}`];
  if (mo) return [`${y}-${mo}-01`, `${y}-${mo}-31`];
  return [`${y}-01-01`, `${y}-12-31`];
}

// Whether the date range ends before it starts (2024 → 2020).
export function reversedRange(s) {
  if (!s.date_from || !s.date_to) return false;
  const from = dayRange(s.date_from);
  const to = dayRange(s.date_to);
  return Boolean(from && to && from[0] > to[1]);
}
