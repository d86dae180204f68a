// policy-search web page: plain JS modules, no framework, no build step.
// The URL's query string is the page's state; API data is only ever rendered as text nodes.

import { getJson, messageOf, refusalOf } from "./api.js";
import { loadSimilar, renderArticle, showMatches } from "./article.js";
import { citeControls, renderExport } from "./cite.js";
import { binUnit, facetValues, filterChips, timeline, yearBins } from "./facets.js";
import { hideFollow, showFollow } from "./follow.js";
import { resultItem } from "./hits.js";
import { looseLine, noticeItems, readingLine } from "./reading.js";
import {
  articleUrl, FACETS, FILTERS, isFiltered, learnOptions, MODES, MULTI, readState, refined,
  reversedRange, searchState, searchUrl, toUrl, unfiltered,
} from "./state.js";
import { countryName, countryOptions, countryValue, learnCountries } from "./countries.js";

const PAGE_SIZE = 10;
const DEBOUNCE_MS = 250;
const SPINNER_MS = 300;
const WIDE = window.matchMedia("(min-width: 48rem)");
const TAPPABLE = window.matchMedia("(max-width: 48rem), (pointer: coarse)");
const MIN_BAR_PX = 24; // a year bar's width where it is tapped, not clicked
const ECHO_CHARS = 80; // a query longer than this is cut in the status line and the title

const $ = (id) => document.getElementById(id);
const el = {
  form: $("search-form"), q: $("q"), source: $("source"), sort: $("sort"), modes: $("modes"),
  syntax: $("q-syntax"),
  filtersBox: $("filters-box"), filtersCount: $("filters-count"), status: $("status"),
  spinner: $("spinner"), error: $("error"), hint: $("hint"), corpusInfo: $("corpus-info"),
  resultsView: $("results-view"), results: $("results"), empty: $("empty"), pager: $("pager"),
  prev: $("prev"), next: $("next"), range: $("range"), activeFilters: $("active-filters"),
  facets: $("facets"), yearFacet: $("facet-year"), timeline: $("timeline"),
  readout: $("timeline-readout"), articleView: $("article-view"), back: $("back"),
  timelineTitle: $("timeline-title"), undated: $("timeline-undated"), reading: $("reading"),
  notices: $("notices"), loose: $("loose"), countryMore: $("country-more"),
  countryForm: $("country-form"), country: $("country"), countryError: $("country-error"),
  countryNames: $("country-names"), exportBox: $("export"), articleCite: $("article-cite"),
};
const articleEls = {
  title: $("article-title"), meta: $("article-meta"), tags: $("article-tags"), why: $("why"),
  text: $("article-text"), similar: $("similar"), similarList: $("similar-list"),
};
const FIELDS = {};          // each filter the form has a field for (named as the filter) → it
const LABELS = {};          // each filter's name for a person, from the API
const FOLDED = new Set(["tag"]); // facet panels that start folded (on a phone, all of them do)
const DRAWN = new Set(["year", "country"]); // facets drawn their own way: the timeline, countries
let panels = [];            // the facets the API offers, in its order

let state = null;           // read from the URL once the API's options are known (`start`)
let seq = 0;                // the newest request; older answers are ignored
let controller = null;      // aborts the request in flight when a newer one starts
let typingEntry = false;    // the current history entry was pushed by typing (replace it)
let debounceTimer = 0;
let pendingScroll = null;   // scroll position to restore after back/forward
let pendingFocus = null;    // the facet control to focus again once the results are redrawn
let returnTo = "";          // the article whose hit gets the focus back after "Back to results"
let statsLoaded = false;    // the source list came from /stats (retried after a search works)
let drawn = null;           // the timeline's years and state, to redraw it at a new width
let drawnWidth = 0;         // the width it was drawn at

// ---- state <-> URL and form ------------------------------------------------------------------

function formState() {
  const checked = el.form.querySelector('input[name="mode"]:checked');
  const s = {
    ...state, q: el.q.value.trim(), mode: checked ? checked.value : MODES[0],
    sort: el.sort.value, page: 1, article: "", start: null, end: null,
  };
  for (const [f, input] of Object.entries(FIELDS)) s[f] = input.value.trim();
  return s;
}

function syncForm() {
  if (el.q.value.trim() !== state.q) el.q.value = state.q;
  ensureSourceOption(state.source);
  for (const [f, input] of Object.entries(FIELDS)) input.value = state[f];
  el.sort.value = state.sort;
  for (const radio of el.form.querySelectorAll('input[name="mode"]')) {
    radio.checked = radio.value === state.mode;
  }
  const active = FILTERS.filter((f) => state[f]).length
    + MULTI.reduce((sum, f) => sum + state[f].length, 0);
  el.filtersCount.textContent = active ? `(${active} active)` : "";
}

function navigate(next, how, marker) {
  state = next;
  const url = toUrl(state);
  if (how === "push" && url !== location.pathname + location.search) {
    history.pushState(marker || null, "", url);
  } else {
    history.replaceState(marker || history.state, "", url);
  }
  render();
}

function go(next) {
  clearTimeout(debounceTimer);
  typingEntry = false;
  navigate(next, "push");
}

// In-page links: `toArticle` for a hit's article (back returns to the same scroll position),
// `link` for any other state.
const nav = {
  toArticle(anchor, target) {
    anchor.href = toUrl(target);
    anchor.addEventListener("click", (event) => {
      if (!plainClick(event)) return;
      event.preventDefault();
      history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, "");
      typingEntry = false;
      navigate(target, "push", { fromResults: true });
    });
  },
  link(text, target, title) {
    const anchor = document.createElement("a");
    anchor.textContent = text;
    anchor.href = toUrl(target);
    if (title) anchor.title = title;
    anchor.addEventListener("click", (event) => {
      if (!plainClick(event)) return;
      event.preventDefault();
      go(target);
    });
    return anchor;
  },
};

// ---- rendering ------------------------------------------------------------------------------

function render() {
  syncForm();
  if (state.article) {
    showArticle();
  } else if (state.q) {
    runSearch();
  } else {
    showHint();
  }
}

function showView(name) {
  el.hint.hidden = name !== "hint";
  el.resultsView.hidden = name !== "results";
  el.articleView.hidden = name !== "article";
  document.body.classList.toggle("view-article", name === "article");
}

function showHint() {
  cancelRequest();
  hideError();
  setSpinner(false);
  showView("hint");
  setStatus("");
  document.title = "policy-search";
}

// The query as the status line and the title echo it: a long one cut, saying so.
function echo(q) {
  const chars = [...q];
  return chars.length > ECHO_CHARS ? `${chars.slice(0, ECHO_CHARS).join("")}…` : q;
}

function setStatus(text) {
  if (el.status.textContent !== text) el.status.textContent = text;
}

function setSpinner(on) {
  el.spinner.hidden = !on;
  document.body.classList.toggle("busy", on);
}

// An error of the service, or (`refused`) a request it refused as given: then only what to change.
function showError(message, { refused = false } = {}) {
  el.error.replaceChildren();
  el.error.classList.toggle("refused", refused);
  if (!refused) {
    const strong = document.createElement("strong");
    strong.textContent = "Something went wrong. ";
    el.error.append(strong);
  }
  el.error.append(message);
  el.error.hidden = false;
  setStatus("");
}

function hideError() {
  el.error.hidden = true;
  el.error.replaceChildren();
}

// ---- requests -------------------------------------------------------------------------------

function cancelRequest() {
  seq += 1;
  if (controller) controller.abort();
  controller = null;
}

// Fetch `url` for the main view; only the newest request's answer (or error) is shown.
async function load(url, onData) {
  cancelRequest();
  const mine = seq;
  controller = new AbortController();
  const signal = controller.signal;
  const timer = setTimeout(() => {
    setSpinner(true);
    setStatus("Searching…");
  }, SPINNER_MS);
  try {
    const data = await getJson(url, signal);
    if (mine !== seq) return;
    hideError();
    el.q.removeAttribute("aria-invalid");
    onData(data, () => mine === seq);
  } catch (err) {
    if (mine !== seq || err.name === "AbortError") return;
    clearResults();
    articleEls.title.textContent = "The article could not be loaded";
    const refused = refusalOf(err, state.q);
    showError(refused || messageOf(err), { refused: Boolean(refused) });
    if (refused && /^q: /.test(err.message)) el.q.setAttribute("aria-invalid", "true");
  } finally {
    clearTimeout(timer);
    if (mine === seq) setSpinner(false);
  }
}

function clearResults() {
  el.results.replaceChildren();
  el.exportBox.hidden = true;
  hideFollow();
  el.empty.hidden = true;
  el.pager.hidden = true;
  el.facets.hidden = true;
  el.loose.hidden = true;
  el.reading.hidden = true;
  el.notices.hidden = true;
}

// ---- search results -------------------------------------------------------------------------

function runSearch() {
  const s = state;
  if (el.resultsView.hidden) clearResults();
  showView("results");
  renderChips(s);
  document.title = `${echo(s.q)} – policy-search`;
  if (reversedRange(s)) {
    showReversed(s);
    return;
  }
  const offset = (s.page - 1) * PAGE_SIZE;
  // With a date filter the timeline still shows every year, the chosen ones marked.
  const dated = s.date_from || s.date_to;
  const allYears = dated
    ? getJson(searchUrl({ ...s, date_from: "", date_to: "" }, { group: true, k: 1, facets: "year" })).catch(() => null)
    : null;
  load(searchUrl(s, { group: true, k: PAGE_SIZE, offset, facets: FACETS }), (data, current) => {
    renderResults(data, s);
    if (allYears) {
      allYears.then((wide) => {
        if (wide && current() && wide.facets && wide.facets.year) drawTimeline(wide.facets.year, s, wide.total);
      });
    }
  });
}

function renderResults(data, s) {
  const hits = data.results || [];
  const offset = (s.page - 1) * PAGE_SIZE;
  if (!statsLoaded) loadStats();
  el.results.replaceChildren(...hits.map((hit) => resultItem(hit, s, nav)));
  el.empty.hidden = hits.length > 0;
  if (hits.length > 0) renderExport(el.exportBox, s);
  else el.exportBox.hidden = true;
  showFollow(s); // a search with no match yet may still be followed
  if (hits.length === 0) {
    el.empty.replaceChildren(noResults(s, data.total, data.loose));
    setStatus(`No results for “${echo(s.q)}”.`);
  } else {
    const range = `Results ${offset + 1}–${offset + hits.length} of ${data.total}`;
    setStatus(`${range} for “${echo(s.q)}”.`);
    el.range.textContent = range;
  }
  el.prev.disabled = s.page <= 1;
  el.next.disabled = offset + hits.length >= data.total;
  el.pager.hidden = el.prev.disabled && el.next.disabled;
  renderReading(data.reading);
  renderLoose(el.next.disabled && (hits.length > 0 || data.total === 0) ? data.loose : 0, s, hits.length > 0);
  renderFacets(data, s);
  if (pendingScroll !== null) {
    window.scrollTo(0, pendingScroll);
    pendingScroll = null;
  }
  restoreFocus();
}

// How the query was read, where it was more than free words, and what the service says about it.
function renderReading(reading) {
  const line = readingLine(reading);
  el.reading.replaceChildren(...(line ? [line] : []));
  el.reading.hidden = !line;
  el.notices.replaceChildren(...noticeItems(reading));
  el.notices.hidden = el.notices.childElementCount === 0;
}

// After the last page: the hits past the relevance floor but under the confidence floor, with a
// link that shows them too.
function renderLoose(loose, s, afterHits) {
  el.loose.hidden = !(loose > 0) || Boolean(s.min_confidence);
  el.loose.replaceChildren();
  if (el.loose.hidden) return;
  el.loose.append(looseLine(loose, (text) => {
    const link = nav.link(text, { ...searchState(s), min_confidence: "0" }, "Show the articles under the confidence floor too");
    link.id = "show-loose";
    return link;
  }, { afterHits }));
}

function noResults(s, total, loose) {
  const frag = document.createDocumentFragment();
  const p = document.createElement("p");
  p.className = "empty-title";
  if (total > 0 && s.page > 1) {
    p.textContent = `Page ${s.page} is past the last result.`;
    frag.append(p);
    return frag;
  }
  if (loose > 0 && !s.min_confidence) {
    p.textContent = `Nothing matches “${echo(s.q)}” closely.`;
    frag.append(p);
    return frag; // the loosely related ones are offered below
  }
  p.textContent = `No articles match “${echo(s.q)}”.`;
  const tip = document.createElement("p");
  tip.textContent = isFiltered(s)
    ? "Try removing some filters, or other words."
    : "Try other words, fewer words, or a different “Match by” setting.";
  frag.append(p, tip);
  return frag;
}

// A date range that ends before it starts matches nothing: say so, and offer to swap it.
function showReversed(s) {
  cancelRequest();
  hideError();
  setSpinner(false);
  el.results.replaceChildren();
  hideFollow();
  el.pager.hidden = true;
  el.facets.hidden = true;
  const p = document.createElement("p");
  p.className = "empty-title";
  p.textContent = `The date range is reversed: “From” ${s.date_from} is after “To” ${s.date_to}.`;
  const swap = document.createElement("button");
  swap.type = "button";
  swap.id = "swap-dates";
  swap.textContent = `Search ${s.date_to} to ${s.date_from} instead`;
  swap.addEventListener("click", () => go(refined(s, { date_from: s.date_to, date_to: s.date_from })));
  const tip = document.createElement("p");
  tip.append(swap);
  el.empty.replaceChildren(p, tip);
  el.empty.hidden = false;
  setStatus("The date range is reversed: no article can match it.");
}

// ---- facets and active filters --------------------------------------------------------------

function renderFacets(data, s) {
  const facets = data.facets || {};
  const more = data.facets_more || {};
  learnCountries(facets.country);
  fillFacet("country", facets.country, more.country, {
    label: (item) => item.name || countryName(item.value),
    isActive: (item) => s.country.includes(item.value),
    onPick: (item, active) => {
      const country = active ? s.country.filter((c) => c !== item.value) : [...s.country, item.value];
      pick("country", item.value, { country });
    },
  }, "countries");
  renderCountryMore(more.country || 0, facets.country || []);
  for (const f of panels) {
    if (!DRAWN.has(f.name)) fillFacet(f.name, facets[f.name], more[f.name], valueOptions(f, s), f.label.toLowerCase());
  }
  drawTimeline(facets.year || [], s, data.total); // last: its width is what the others leave it
  el.facets.hidden = [...el.facets.children].every((section) => section.hidden);
}

// A facet's values as toggles of its filter: a value shows its name where it has one (a source's
// short name), which the filter is given too; a repeated filter adds and removes values.
function valueOptions(f, s) {
  const name = (item) => item.name || item.value;
  const many = MULTI.includes(f.filter);
  return {
    label: name,
    tooltip: (item) => (item.name && item.name !== item.value ? item.value : ""),
    isActive: (item) => (many ? s[f.filter].includes(item.value) : s[f.filter] === name(item) || s[f.filter] === item.value),
    onPick: (item, active) => {
      const values = many && (active ? s[f.filter].filter((v) => v !== item.value) : [...s[f.filter], item.value]);
      pick(f.name, item.value, { [f.filter]: many ? values : active ? "" : name(item) });
    },
  };
}

function fillFacet(facet, items, more, options, noun) {
  const box = $(`facet-${facet}`);
  const list = box.querySelector(".facet-values");
  const values = items || [];
  list.replaceChildren(...facetValues(values, { facet, ...options }));
  const line = box.querySelector(".facet-more");
  if (facet !== "country") line.textContent = more ? `and ${more} more ${noun}` : "";
  box.hidden = values.length === 0;
}

// "and 31 more countries" opens a field for any country, by name or code, with suggestions: the
// countries this search found first, then every other the browser can name.
function renderCountryMore(more, listed) {
  const line = el.countryMore.parentElement;
  line.hidden = !(more > 0);
  el.countryMore.textContent = `and ${more} more countr${more === 1 ? "y" : "ies"}`;
  if (line.hidden) openCountryField(false);
  el.countryNames.replaceChildren(...countryOptions(listed));
}

function openCountryField(open) {
  el.countryMore.setAttribute("aria-expanded", String(open));
  el.countryForm.hidden = !open;
  if (!open) showCountryError("");
}

function showCountryError(message) {
  el.countryError.textContent = message;
  el.countryError.hidden = !message;
  el.country.setAttribute("aria-invalid", String(Boolean(message)));
}

// Filter by the typed country once the service knows it; if it does not, say what it said.
async function addCountry() {
  const value = countryValue(el.country.value);
  if (!value) return;
  const s = state;
  const next = refined(s, { country: s.country.includes(value) ? s.country : [...s.country, value] });
  try {
    await getJson(searchUrl(next, { group: true, k: 1 }));
  } catch (err) {
    if (state !== s) return;
    showCountryError(refusalOf(err) || messageOf(err));
    el.country.focus();
    return;
  }
  if (state !== s) return;
  el.country.value = "";
  showCountryError("");
  pendingFocus = { facet: "country", value };
  go(next);
}

function pick(facet, value, changes) {
  pendingFocus = { facet, value };
  go(refined(state, changes));
}

// The timeline of `years` (the year facet) for `total` matching articles: those with no date
// are counted beside it.
function drawTimeline(years, s, total) {
  const bins = yearBins(years);
  el.yearFacet.hidden = bins.length === 0;
  drawn = bins.length ? { years, s, total } : null;
  if (!drawn) {
    el.timeline.replaceChildren();
    return;
  }
  el.facets.hidden = false;
  const year = (value, fallback) => (value ? parseInt(value.slice(0, 4), 10) : fallback);
  const from = year(s.date_from, -Infinity);
  const to = year(s.date_to, Infinity);
  const filtered = Boolean(s.date_from || s.date_to);
  drawnWidth = Math.floor(el.timeline.clientWidth);
  const width = Math.max(160, drawnWidth || 260);
  const focused = el.timeline.contains(document.activeElement) ? document.activeElement.dataset.from : "";
  const unit = binUnit(bins);
  el.timelineTitle.textContent = `Matching articles per ${unit}`;
  const dated = bins.reduce((sum, bin) => sum + bin.count, 0);
  const undated = Number.isFinite(total) ? Math.max(0, total - dated) : 0;
  const span = bins.length === 1 ? bins[0].label : `${bins[0].label}–${bins[bins.length - 1].label}`;
  const summary = `${dated} dated article${dated === 1 ? "" : "s"}, ${span}`;
  el.undated.textContent = undated ? `${undated} undated (not on the timeline)` : "";
  el.undated.hidden = !undated;
  const chart = timeline(bins, {
    width,
    minStep: TAPPABLE.matches ? MIN_BAR_PX : 0,
    height: WIDE.matches ? 132 : 100, // on a phone the results start higher
    summary,
    readout: el.readout,
    selected: (bin) => filtered && +bin.from >= from && +bin.to <= to,
    onPick: (bin) => {
      const on = s.date_from === bin.from && s.date_to === bin.to;
      pick("year", bin.from, on ? { date_from: "", date_to: "" } : { date_from: bin.from, date_to: bin.to });
    },
  });
  if (undated) chart.setAttribute("aria-label", `${chart.getAttribute("aria-label")} (${undated} undated not shown)`);
  el.timeline.replaceChildren(chart);
  scrollTimeline();
  el.readout.textContent = summary;
  if (focused && !pendingFocus) pendingFocus = { facet: "year", value: focused };
  if (pendingFocus && pendingFocus.facet === "year") restoreFocus();
}

// A chart wider than its box shows its chosen bars, else its latest years.
function scrollTimeline() {
  const box = el.timeline;
  if (box.scrollWidth <= box.clientWidth) return;
  const on = [...box.querySelectorAll(".bar.on .hit-area")];
  const target = on.length ? on[on.length - 1] : null;
  if (!target) {
    box.scrollLeft = box.scrollWidth;
    return;
  }
  const x = parseFloat(target.getAttribute("x")) + parseFloat(target.getAttribute("width"));
  box.scrollLeft = Math.max(0, x - box.clientWidth / 2);
}

function restoreFocus() {
  if (!pendingFocus) {
    if (returnTo) {
      const hit = [...el.results.querySelectorAll(".hit")].find((li) => li.dataset.article === returnTo);
      if (hit) hit.querySelector(".hit-title").focus({ preventScroll: true });
      returnTo = "";
    }
    return;
  }
  const { facet, value } = pendingFocus;
  let target = null;
  if (facet === "year") {
    target = el.timeline.querySelector(`.bar[data-from="${CSS.escape(value)}"][role="button"]`);
    if (target) {
      for (const bar of el.timeline.querySelectorAll(".bar[tabindex]")) bar.setAttribute("tabindex", "-1");
      target.setAttribute("tabindex", "0");
    }
  } else {
    target = el.facets.querySelector(`.facet-value[data-facet="${facet}"][data-value="${CSS.escape(value)}"]`);
  }
  if (target) {
    pendingFocus = null;
    target.focus({ preventScroll: true });
  } else if (facet !== "year") {
    pendingFocus = null;
  }
}

function renderChips(s) {
  const chips = [];
  if (s.date_from || s.date_to) {
    let label = `Until ${s.date_to}`;
    if (s.date_from && s.date_to) label = s.date_from === s.date_to ? `Year ${s.date_from}` : `${s.date_from} to ${s.date_to}`;
    else if (s.date_from) label = `From ${s.date_from}`;
    chips.push({ key: "date", label });
  }
  for (const f of FILTERS) {
    if (s[f] && f !== "date_from" && f !== "date_to") chips.push({ key: f, label: `${LABELS[f]}: ${s[f]}` });
  }
  for (const f of MULTI) {
    for (const value of s[f]) {
      const shown = f === "country" ? countryName(value) : value;
      chips.push({ key: `${f}:${value}`, filter: f, value, label: `${LABELS[f]}: ${shown}` });
    }
  }
  if (s.min_confidence) chips.push({ key: "min_confidence", label: "With loosely related", title: "Hide the loosely related articles" });
  const remove = (chip) => {
    const changes = chip.key === "date" ? { date_from: "", date_to: "" }
      : chip.filter ? { [chip.filter]: s[chip.filter].filter((v) => v !== chip.value) }
        : { [chip.key]: "" };
    go(refined(s, changes));
    el.q.focus({ preventScroll: true });
  };
  el.activeFilters.replaceChildren(...filterChips(chips, remove, () => {
    go(refined(s, { ...unfiltered(), min_confidence: "" }));
    el.q.focus({ preventScroll: true });
  }));
  el.activeFilters.hidden = chips.length === 0;
}

// ---- article view ---------------------------------------------------------------------------

function showArticle() {
  const s = state;
  showView("article");
  articleEls.title.textContent = "Loading the article…";
  for (const box of [articleEls.meta, articleEls.text, articleEls.why, articleEls.tags, el.articleCite]) box.replaceChildren();
  articleEls.why.hidden = true;
  articleEls.similar.hidden = true;
  const back = searchState(s);
  el.back.href = toUrl(back);
  el.back.textContent = s.q ? "← Back to results" : "← New search";
  load(articleUrl(s.article), (article, current) => {
    renderArticle(article, s, articleEls, nav);
    renderArticleCite(article, s);
    setStatus(`Showing the article “${article.title}”.`);
    articleEls.title.focus({ preventScroll: true });
    const mark = articleEls.text.querySelector("mark.passage-mark");
    if (mark) {
      mark.scrollIntoView({ block: "center" });
    } else {
      window.scrollTo(0, 0);
    }
    if (s.q) showMatches(article, s, articleEls, current);
    loadSimilar(article, s, articleEls, nav, current);
  });
}

// Cite and Link in the article view: the span being read (its start and end in the URL), or
// the article whole.
function renderArticleCite(article, s) {
  const spanned = s.start !== null && s.end !== null;
  const cite = citeControls(article.id, spanned ? s.start : null, spanned ? s.end : null, "article");
  const actions = document.createElement("p");
  actions.className = "actions";
  actions.append(spanned ? "The highlighted passage: " : "This article: ", ...cite.buttons);
  el.articleCite.replaceChildren(actions, cite.panel);
}

// ---- sources from /stats --------------------------------------------------------------------

function ensureSourceOption(source) {
  if (!source) return;
  const exists = Array.from(el.source.options).some((o) => o.value === source);
  if (!exists) el.source.append(new Option(source, source));
}

async function loadStats() {
  let stats;
  try {
    stats = await getJson("/stats");
  } catch {
    return; // searches report the problem; the filter keeps "All sources"
  }
  if (statsLoaded) return;
  statsLoaded = true;
  const options = (stats.sources || []).map((src) => {
    const name = src.source_name || src.source;
    const option = new Option(`${name} (${src.articles})`, name);
    if (name !== src.source) option.title = src.source;
    return option;
  });
  el.source.replaceChildren(new Option("All sources", ""), ...options);
  ensureSourceOption(state.source);
  el.source.value = state.source;
  const sources = stats.sources ? stats.sources.length : 0;
  let info = `The index holds ${stats.articles} articles from ${sources} source${sources === 1 ? "" : "s"}`;
  if (stats.date_min && stats.date_max) info += `, dated ${stats.date_min} to ${stats.date_max}`;
  el.corpusInfo.textContent = `${info}.`;
}

// ---- events ---------------------------------------------------------------------------------

function plainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

function onTyped() {
  if (!state) return; // typed before the page is ready: `start` reads it
  const next = formState();
  if (toUrl(next) === toUrl(searchState(state)) && !state.article) return;
  navigate(next, typingEntry ? "replace" : "push");
  typingEntry = true;
}

function commit() {
  if (!state) return;
  clearTimeout(debounceTimer);
  const how = typingEntry ? "replace" : "push";
  typingEntry = false;
  navigate(formState(), how);
}

function goToPage(page) {
  go({ ...searchState(state), page });
  el.status.scrollIntoView({ block: "nearest" });
}

el.q.addEventListener("input", () => {
  clearTimeout(debounceTimer);
  debounceTimer = setTimeout(onTyped, DEBOUNCE_MS);
});
el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  commit();
});
el.form.addEventListener("change", (event) => {
  if (event.target !== el.q) commit();
});
el.countryMore.addEventListener("click", () => {
  const open = el.countryMore.getAttribute("aria-expanded") !== "true";
  openCountryField(open);
  if (open) el.country.focus();
});
el.countryForm.addEventListener("submit", (event) => {
  event.preventDefault();
  addCountry();
});
el.country.addEventListener("input", () => showCountryError(""));
el.prev.addEventListener("click", () => goToPage(Math.max(1, state.page - 1)));
el.next.addEventListener("click", () => goToPage(state.page + 1));

el.back.addEventListener("click", (event) => {
  if (!plainClick(event)) return;
  event.preventDefault();
  returnTo = state.article;
  if (history.state && history.state.fromResults) {
    history.back();
  } else {
    navigate(searchState(state), "push");
  }
});

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-internal]");
  if (!link || link === el.back || !plainClick(event)) return;
  event.preventDefault();
  go(readState(new URL(link.href).search));
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  event.preventDefault();
  el.q.focus();
  el.q.select();
});

window.addEventListener("popstate", () => {
  clearTimeout(debounceTimer);
  typingEntry = false;
  state = readState(location.search);
  pendingScroll = history.state && Number.isFinite(history.state.scrollY)
    ? history.state.scrollY : null;
  render();
});

// The filters show open on a wide screen; on a phone they fold under their summary, and so do
// the longer facet lists.
function fitToScreen() {
  if (WIDE.matches) el.filtersBox.open = true;
}
WIDE.addEventListener("change", fitToScreen);
fitToScreen();

// The chart is drawn to its box's width in pixels: drawn again when the box changes width.
new ResizeObserver(() => {
  const width = Math.floor(el.timeline.clientWidth);
  if (!drawn || el.resultsView.hidden || !width || Math.abs(width - drawnWidth) < 2) return;
  drawTimeline(drawn.years, drawn.s, drawn.total);
}).observe(el.timeline);

// ---- what the API offers --------------------------------------------------------------------

// The controls of what the API offers (GET /search/options): the modes and orders, the query
// syntax's fields, the facets' panels, and the form's fields of its filters.
function buildControls(offered) {
  el.sort.replaceChildren(...offered.sorts.map((o) => new Option(o.label, o.name)));
  el.modes.replaceChildren(...offered.modes.map((m, i) => {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    Object.assign(radio, { type: "radio", name: "mode", value: m.name, checked: i === 0 });
    label.append(radio, ` ${m.label}`);
    return label;
  }));
  for (const f of offered.filters) {
    LABELS[f.name] = f.label;
    if (f.syntax) {
      const code = document.createElement("code");
      // a field of the request is said as itself; one of the text alone, by its fullest example
      code.textContent = f.request ? `${f.name}:` : f.syntax.split(" ").pop();
      el.syntax.append(" ", code);
    }
  }
  for (const f of FILTERS) {
    const input = el.form.elements.namedItem(f);
    if (input) FIELDS[f] = input;
  }
  panels = offered.facets;
  for (const f of panels) if (!DRAWN.has(f.name)) el.facets.append(facetPanel(f));
}

// A facet's panel: its heading, its values and how many more there are.
function facetPanel(f) {
  const box = document.createElement("details");
  box.id = `facet-${f.name}`;
  box.className = "facet";
  box.open = !FOLDED.has(f.name);
  box.hidden = true;
  const summary = document.createElement("summary");
  const title = document.createElement("h2");
  title.className = "facet-title";
  title.textContent = f.label;
  summary.append(title);
  const list = document.createElement("ul");
  list.className = "facet-values";
  const more = document.createElement("p");
  more.className = "facet-more";
  box.append(summary, list, more);
  return box;
}

async function start() {
  let offered;
  try {
    offered = await getJson("/search/options");
  } catch (err) {
    showError(messageOf(err));
    return;
  }
  learnOptions(offered);
  buildControls(offered);
  state = readState(location.search);
  // What was typed into the form while the options were on their way counts, as it would have.
  const typed = { q: el.q.value.trim() };
  for (const [f, input] of Object.entries(FIELDS)) typed[f] = input.value.trim();
  for (const [f, value] of Object.entries(typed)) {
    if (value && value !== state[f]) state = refined(state, { [f]: value });
  }
  if (!WIDE.matches) {
    for (const box of el.facets.querySelectorAll("details.facet")) box.open = false;
    if (isFiltered(state) && !MULTI.some((f) => state[f].length)) el.filtersBox.open = true;
  }
  history.replaceState(history.state, "", toUrl(state));
  render();
  loadStats();
}

start();
