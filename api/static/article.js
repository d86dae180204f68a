// The article view: the whole text with the passage being read shaded and the query's words
// marked, why that passage matched (by which words, or by meaning alone; the countries it names),
// the article's tags, and similar articles.

import { getJson } from "./api.js";
import { countryName } from "./countries.js";
import { metaLine, originalLink } from "./hits.js";
import { articleUrl, refined, searchState, searchUrl } from "./state.js";
import {
  codeUnitIndex, markdownSpans, ordinal, richText, safeUrl, showsText, spannedWords, wordSpans,
} from "./text.js";

const SIMILAR_K = 5;
const MATCHES_K = 100; // the API's largest k: the article's matching passages, with highlights
const WORDS_SHOWN = 8;

// `els` holds the view's elements; `nav.link(anchor, target)` makes an in-page link.
export function renderArticle(article, s, els, nav) {
  document.title = `${article.title} – policy-search`;
  els.title.textContent = article.title || article.id;
  const meta = metaLine(article);
  const url = safeUrl(article.url);
  if (url) meta.append(meta.childNodes.length && meta.textContent !== "No source or date" ? " · " : "", originalLink(url));
  els.meta.replaceChildren(...meta.childNodes);
  renderTags(article.tags || [], s, els.tags, nav);
  renderWhy(article, s, els.why, nav);
  els.text.replaceChildren(articleBody(article.text || "", s.start, s.end));
}

function renderTags(tags, s, box, nav) {
  box.replaceChildren();
  box.hidden = tags.length === 0;
  if (!tags.length) return;
  box.append("Tags: ");
  tags.forEach((tag, i) => {
    if (i > 0) box.append(", ");
    box.append(s.q ? nav.link(tag, refined(s, { tag }), `Search “${s.q}” with the tag ${tag}`) : tag);
  });
}

// The passage being read (its start and end in the URL) and the countries it names.
function renderWhy(article, s, box, nav) {
  box.replaceChildren();
  const passages = article.passages || [];
  const at = s.start === null ? -1 : passages.findIndex((p) => p.start === s.start && p.end === s.end);
  box.hidden = at < 0;
  if (at < 0) return;
  const countries = passages[at].countries || [];
  const lead = document.createElement("strong");
  lead.textContent = passages.length === 1 ? "The article's one passage"
    : `The ${ordinal(at + 1)} of ${passages.length} passages`;
  const how = document.createElement("span");
  how.className = "why-how"; // by which words, once the search for its highlights answers
  box.append(lead, s.q ? ` matched “${s.q}”` : " is shown", how, ".");
  if (countries.length === 0) {
    box.append(" It names no country.");
    return;
  }
  box.append(" It names ");
  countries.forEach((code, i) => {
    if (i > 0) box.append(i === countries.length - 1 ? " and " : ", ");
    const name = countryName(code);
    const node = s.q
      ? nav.link(name, refined(s, { country: [code] }), `Search “${s.q}” in passages that name ${name}`)
      : document.createTextNode(name);
    if (node.dataset) node.dataset.country = code;
    box.append(node);
  });
  box.append(".");
}

// The article's passages that match the query, with their highlights: the "why" box says how the
// passage being read matched, and the text marks the query's words (the API's highlights in
// the matching passages, the same words found in the rest of the text).
export async function showMatches(article, s, els, isCurrent) {
  let data;
  try {
    data = await getJson(searchUrl(searchState(s), { article: article.id, group: false, k: MATCHES_K, sort: null }));
  } catch {
    return; // the article is shown; only the words are not marked
  }
  if (!isCurrent()) return;
  const hits = (data.results || []).filter((h) => h.article.id === article.id);
  const text = article.text || "";
  const index = codeUnitIndex(text);
  const spans = [];
  const words = [];
  for (const hit of hits) {
    const p = hit.passage;
    for (const [a, b] of p.highlights || []) spans.push([index(p.start + a), index(p.start + b)]);
    words.push(...spannedWords(p.text, p.highlights));
  }
  spans.push(...wordSpans(text, words));
  if (spans.length) els.text.replaceChildren(articleBody(text, s.start, s.end, spans));
  const shown = hits.find((h) => h.passage.start === s.start && h.passage.end === s.end);
  const how = els.why.querySelector(".why-how");
  if (!how) return;
  if (!shown) {
    how.textContent = " (it is not among the query's matches now)";
    return;
  }
  const own = spannedWords(shown.passage.text, shown.passage.highlights);
  how.textContent = own.length
    ? ` by its words: ${own.slice(0, WORDS_SHOWN).join(", ")}${own.length > WORDS_SHOWN ? ", …" : ""}`
    : " by meaning alone (none of the query's words)";
}

// Paragraphs (split on blank lines) as text, Markdown markup hidden, the passage [start, end)
// (code points) in one <mark class="passage-mark"> a paragraph, the query's `words` (UTF-16
// spans) in <mark class="query-word">s.
export function articleBody(text, start, end, words = []) {
  const frag = document.createDocumentFragment();
  if (!text) {
    const p = document.createElement("p");
    p.textContent = "This article has no text.";
    frag.append(p);
    return frag;
  }
  const index = codeUnitIndex(text);
  const [from, to] = start === null || end === null ? [0, 0] : [index(start), index(end)];
  const markdown = markdownSpans(text);
  const breaks = /\n[^\S\n]*\n\s*/g;
  let at = 0;
  for (;;) {
    const match = breaks.exec(text);
    const stop = match ? match.index : text.length;
    if (stop > at && showsText(text, at, stop, markdown)) {
      frag.append(paragraph(text, at, stop, [from, to], words, markdown));
    }
    if (!match) break;
    at = match.index + match[0].length;
  }
  return frag;
}

// text[at, stop) as a <p>: the part inside the passage in one <mark>, the words in theirs.
function paragraph(text, at, stop, [from, to], words, markdown) {
  const p = document.createElement("p");
  const piece = (a, b) => richText(text, { from: a, to: b, marks: words, markClass: "query-word", markdown });
  const a = Math.max(at, from);
  const b = Math.min(stop, to);
  if (b <= a) {
    p.append(piece(at, stop));
    return p;
  }
  const mark = document.createElement("mark");
  mark.className = "passage-mark";
  mark.append(piece(a, b));
  if (a > at) p.append(piece(at, a));
  p.append(mark);
  if (stop > b) p.append(piece(b, stop));
  return p;
}

// Articles near this one, as in-page links; nothing shown if the service has none.
export async function loadSimilar(article, s, els, nav, isCurrent) {
  els.similar.hidden = true;
  els.similarList.replaceChildren();
  let data;
  try {
    data = await getJson(`${articleUrl(article.id)}/similar?k=${SIMILAR_K}`);
  } catch {
    return;
  }
  if (!isCurrent()) return;
  const items = (data.results || []).map((r) => {
    const li = document.createElement("li");
    const target = { ...s, article: r.article.id, start: null, end: null };
    li.append(nav.link(r.article.title || r.article.id, target), metaLine(r.article));
    return li;
  });
  els.similarList.replaceChildren(...items);
  els.similar.hidden = items.length === 0;
}
