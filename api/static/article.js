// The article view: the whole text with the passage being read shaded, why that passage matched
// (the countries it names), the article's tags, and similar articles.

import { getJson } from "./api.js";
import { metaLine, originalLink } from "./hits.js";
import { articleUrl, refined } from "./state.js";
import { codeUnitIndex, countryName, markdownSpans, richText, safeUrl, showsText } from "./text.js";

const SIMILAR_K = 5;

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
  lead.textContent = `Passage ${at + 1} of ${passages.length}`;
  box.append(lead);
  if (countries.length === 0) {
    box.append(s.q ? ` matched “${s.q}”; it names no country.` : "; it names no country.");
    return;
  }
  box.append(s.q ? ` matched “${s.q}”. It names ` : ". It names ");
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

// Paragraphs (split on blank lines) as text, Markdown markup hidden, the passage [start, end)
// (code points) in <mark>s.
export function articleBody(text, start, end) {
  const frag = document.createDocumentFragment();
  if (!text) {
    const p = document.createElement("p");
    p.textContent = "This article has no text.";
    frag.append(p);
    return frag;
  }
  const index = codeUnitIndex(text);
  const marks = start === null || end === null ? [] : [[index(start), index(end)]];
  const markdown = markdownSpans(text);
  const breaks = /\n[^\S\n]*\n\s*/g;
  let at = 0;
  for (;;) {
    const match = breaks.exec(text);
    const stop = match ? match.index : text.length;
    if (stop > at && showsText(text, at, stop, markdown)) {
      const p = document.createElement("p");
      p.append(richText(text, { from: at, to: stop, marks, markClass: "passage-mark", markdown }));
      frag.append(p);
    }
    if (!match) break;
    at = match.index + match[0].length;
  }
  return frag;
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
