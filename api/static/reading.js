// How the service read the query, and what it says about the result: the query's phrases,
// exclusions and restrictions in one line, its notices, and the loosely related hits the
// confidence floor left out. Builders of DOM nodes; API text only ever as text nodes.

function em(text) {
  const node = document.createElement("em");
  node.textContent = text;
  return node;
}

// "Read as the phrase Middle Corridor, without Russia, country: AZ", or null where the query
// was free words only (nothing to say).
export function readingLine(reading) {
  const r = reading || {};
  const phrases = r.phrases || [];
  const excluded = r.excluded || [];
  const restrictions = r.restrictions || [];
  if (!(phrases.length || excluded.length || restrictions.length)) return null;
  const words = r.words || [];
  const parts = [];
  if (words.length) parts.push([`the word${words.length === 1 ? "" : "s"} `, em(words.join(" "))]);
  for (const phrase of phrases) parts.push(["the phrase ", em(phrase)]);
  for (const word of excluded) parts.push(["without ", em(word)]);
  for (const { name, value } of restrictions) parts.push([`${name}: `, em(value)]);
  const frag = document.createDocumentFragment();
  frag.append("Read as ");
  parts.forEach((part, i) => frag.append(...(i > 0 ? [", ", ...part] : part)));
  return frag;
}

// The service's notices about the query (a language the index does not read, a quote left
// open), one paragraph each.
export function noticeItems(reading) {
  const notices = ((reading && reading.notices) || []).filter((n) => typeof n === "string" && n.trim());
  return notices.map((text) => {
    const p = document.createElement("p");
    const said = text.trim();
    p.textContent = said[0].toLocaleUpperCase("en") + said.slice(1) + (/[.!?]$/.test(said) ? "" : ".");
    return p;
  });
}

// "and 12 loosely related articles (show them)" after hits, "12 loosely related articles
// (show them)" with none; `link(text)` makes the link that shows them.
export function looseLine(loose, link, { afterHits = true } = {}) {
  const frag = document.createDocumentFragment();
  const noun = loose === 1 ? "article" : "articles";
  const said = `${afterHits ? "and " : ""}${loose} loosely related ${noun} (`;
  frag.append(said, link(`show ${loose === 1 ? "it" : "them"}`), ")");
  return frag;
}
