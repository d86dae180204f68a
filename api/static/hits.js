// One search hit: its title (opens the article in the page), source and date, how likely it is
// to answer the query and the countries its passage names, the snippet with its highlights, the
// whole passage and "Read in context" one click away, and the snippets of the article's other
// matching passages on demand.

import { getJson, messageOf } from "./api.js";
import { citeControls } from "./cite.js";
import { searchUrl } from "./state.js";
import { countryName } from "./countries.js";
import { codeUnitIndex, richText, safeUrl, unitSpans } from "./text.js";

const MORE_PAGE = 100; // the API's largest k
const COUNTRIES_SHOWN = 6; // more are summed up as "and N more"

// A hit's confidence (the probability that it answers the query) in words.
export const CONFIDENCE_BANDS = [
  [0.7, "likely relevant", "likely"],
  [0.4, "possibly relevant", "possibly"],
  [0, "loosely related", "loosely"],
];

// `nav.toArticle(link, target)` makes `link` open `target` (a state) in the page.
export function resultItem(hit, s, nav) {
  const li = document.createElement("li");
  li.className = "hit";
  li.dataset.article = hit.article.id;
  const target = articleTarget(hit, s);
  const h3 = document.createElement("h3");
  const title = document.createElement("a");
  title.className = "hit-title";
  title.textContent = hit.article.title || hit.article.id;
  nav.toArticle(title, target);
  h3.append(title);
  li.append(h3, metaLine(hit.article, { original: true }));
  const facts = hitFacts(hit, s);
  if (facts) li.append(facts);
  li.append(snippetBlock(hit));

  const whole = document.createElement("div");
  whole.className = "passage";
  whole.id = `passage-${hit.rank}-${hit.passage.id}`;
  whole.hidden = true;
  whole.append(richText(hit.passage.text, { marks: unitSpans(hit.passage.text, hit.passage.highlights) }));
  li.append(whole);

  const actions = document.createElement("p");
  actions.className = "actions";
  const snippet = hit.snippet;
  if (snippet && (snippet.start > 0 || snippet.end < [...hit.passage.text].length)) {
    actions.append(wholeToggle(li, whole));
  }
  const context = document.createElement("a");
  context.textContent = "Read in context";
  nav.toArticle(context, target);
  actions.append(context);
  const cite = citeControls(hit.article.id, hit.passage.start, hit.passage.end, `${hit.rank}-${hit.passage.id}`);
  actions.append(...cite.buttons);
  li.append(actions, cite.panel);
  if (hit.more > 0) addMore(li, actions, hit, s, nav);
  return li;
}

function articleTarget(hit, s) {
  return { ...s, article: hit.article.id, start: hit.passage.start, end: hit.passage.end };
}

// Source (short name; the whole source as its tooltip) · author · date · original ↗
export function metaLine(article, { original = false } = {}) {
  const p = document.createElement("p");
  p.className = "meta";
  const parts = [];
  if (article.source) {
    const span = document.createElement("span");
    span.className = "source";
    span.textContent = article.source_name || article.source;
    if (article.source_name && article.source_name !== article.source) span.title = article.source;
    parts.push(span);
  }
  for (const value of [article.author, article.date]) {
    if (!value) continue;
    const span = document.createElement("span");
    span.textContent = value;
    parts.push(span);
  }
  const url = original && safeUrl(article.url);
  if (url) parts.push(originalLink(url));
  if (parts.length === 0) p.textContent = "No source or date";
  parts.forEach((part, i) => p.append(...(i > 0 ? [" · ", part] : [part])));
  return p;
}

export function originalLink(url) {
  const link = document.createElement("a");
  link.className = "original";
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = "original ↗";
  link.title = `The original at ${new URL(url).host} (opens in a new tab)`;
  return link;
}

// "likely relevant · names Azerbaijan and Israel": the confidence in words (the number in its
// tooltip) and the countries the passage names (those filtered by in bold).
function hitFacts(hit, s) {
  const parts = [];
  if (typeof hit.confidence === "number" && Number.isFinite(hit.confidence)) {
    const [, words, band] = CONFIDENCE_BANDS.find(([floor]) => hit.confidence >= floor) || CONFIDENCE_BANDS[2];
    const span = document.createElement("span");
    span.className = `confidence confidence-${band}`;
    span.dataset.confidence = String(hit.confidence);
    const number = hit.confidence.toFixed(2);
    span.title = `Confidence ${number}: the estimated probability that this passage answers the query`;
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` (confidence ${number})`;
    span.append(words, hidden);
    parts.push(span);
  }
  const codes = (hit.passage && hit.passage.countries) || [];
  if (codes.length) {
    const span = document.createElement("span");
    span.className = "countries";
    span.append("names ");
    const shown = codes.length > COUNTRIES_SHOWN + 1 ? codes.slice(0, COUNTRIES_SHOWN) : codes;
    shown.forEach((code, i) => {
      if (i > 0) span.append(i === shown.length - 1 && shown.length === codes.length ? " and " : ", ");
      const name = document.createElement(s.country.includes(code) ? "strong" : "span");
      name.className = "country";
      name.dataset.country = code;
      name.textContent = countryName(code);
      span.append(name);
    });
    if (shown.length < codes.length) span.append(` and ${codes.length - shown.length} more`);
    parts.push(span);
  }
  if (!parts.length) return null;
  const p = document.createElement("p");
  p.className = "facts";
  parts.forEach((part, i) => p.append(...(i > 0 ? [" · ", part] : [part])));
  return p;
}

// The snippet with its highlights ("…" where the passage goes on), or the passage itself from
// a server that sends no snippet.
function snippetBlock(hit) {
  const p = document.createElement("p");
  p.className = "snippet";
  const snippet = hit.snippet;
  if (!snippet) {
    p.append(richText(hit.passage.text, { marks: unitSpans(hit.passage.text, hit.passage.highlights) }));
    return p;
  }
  const length = [...hit.passage.text].length;
  if (snippet.start > 0) p.append("… ");
  p.append(richText(snippet.text, { marks: unitSpans(snippet.text, snippet.highlights) }));
  if (snippet.end < length) p.append(" …");
  return p;
}

function wholeToggle(li, whole) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link-button whole-button";
  button.textContent = "Whole passage";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", whole.id);
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    whole.hidden = !open;
    li.querySelector(".snippet").hidden = open;
  });
  return button;
}

function addMore(li, actions, hit, s, nav) {
  const count = hit.more;
  const label = `${count} more passage${count === 1 ? "" : "s"}`;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "more-button";
  button.textContent = `Show ${label}`;
  button.setAttribute("aria-expanded", "false");
  const list = document.createElement("ol");
  list.className = "more";
  list.id = `more-${hit.rank}-${hit.passage.id}`;
  list.hidden = true;
  button.setAttribute("aria-controls", list.id);
  actions.append(button);
  li.append(list);
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = `${open ? "Hide" : "Show"} ${label}`;
    list.hidden = !open;
    if (!open || loaded) return;
    loaded = true;
    await loadMore(list, hit, s, nav);
  });
}

// The snippets of the article's other passages that match (`article=`), in the article's order.
async function loadMore(list, hit, s, nav) {
  list.replaceChildren(note("Loading…"));
  list.setAttribute("aria-busy", "true");
  try {
    const others = await otherPassages(hit, s);
    list.replaceChildren(...snippetItems(others, s, nav));
    if (others.length === 0) list.replaceChildren(note("No other passage of this article matches now."));
  } catch (err) {
    list.replaceChildren(note(messageOf(err)));
  } finally {
    list.removeAttribute("aria-busy");
  }
}

async function otherPassages(hit, s) {
  const want = hit.more + 1; // the article's matching passages, this one included
  const found = new Map();
  for (let offset = 0; offset < want; offset += MORE_PAGE) {
    const k = Math.min(MORE_PAGE, want - offset);
    const url = searchUrl(s, { article: hit.article.id, group: false, k, offset, sort: null });
    const data = await getJson(url);
    const results = data.results || [];
    for (const h of results) {
      if (h.article.id === hit.article.id && h.passage.id !== hit.passage.id) found.set(h.passage.id, h);
    }
    if (results.length < k) break;
  }
  return [...found.values()].sort((a, b) => a.passage.start - b.passage.start);
}

// Where a hit's snippet lies in its article (code points): [start, end).
function snippetSpan(hit) {
  const snippet = hit.snippet;
  if (!snippet) return [hit.passage.start, hit.passage.end];
  return [hit.passage.start + snippet.start, hit.passage.start + snippet.end];
}

// Each passage's snippet, from where the one before it ended: neighbouring passages overlap, so
// their snippets may too; one wholly shown already is left out.
function snippetItems(hits, s, nav) {
  const items = [];
  let shownEnd = -1;
  for (const other of hits) {
    const [start, end] = snippetSpan(other);
    const cut = shownEnd > start ? Math.min(shownEnd, end) - start : 0;
    if (cut >= end - start) continue;
    items.push(moreSnippet(other, s, nav, cut, shownEnd >= 0 && start > shownEnd));
    shownEnd = Math.max(shownEnd, end);
  }
  return items;
}

function moreSnippet(hit, s, nav, cut, afterGap) {
  const li = document.createElement("li");
  if (afterGap) li.className = "after-gap";
  const snippet = hit.snippet || { text: hit.passage.text, start: 0, end: [...hit.passage.text].length, highlights: hit.passage.highlights };
  const text = snippet.text;
  const p = document.createElement("p");
  p.className = "snippet";
  if (cut > 0) p.classList.add("continues");
  if (snippet.start > 0 && cut === 0) p.append("… ");
  const from = codeUnitIndex(text)(cut);
  p.append(richText(text, { from, marks: unitSpans(text, snippet.highlights) }));
  if (snippet.end < [...hit.passage.text].length) p.append(" …");
  const context = document.createElement("a");
  context.textContent = "Read in context";
  context.className = "small";
  nav.toArticle(context, articleTarget(hit, s));
  li.append(p, context);
  return li;
}

function note(text) {
  const li = document.createElement("li");
  li.className = "note";
  li.textContent = text;
  return li;
}
