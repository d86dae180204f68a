// Cite, Link and Export: a hit's passage (or a whole article) cited in a style the API offers,
// with a copy button; a permalink to the exact words, copied; the current search as a file.
// The formats and styles are the API's (GET /formats), never a list kept here.

import { getJson, messageOf } from "./api.js";
import { articleUrl, searchUrl } from "./state.js";
import { codeUnitIndex } from "./text.js";

const STYLE_KEY = "policy-search.style"; // the style last chosen, kept for the next citation
let outputs = null; // the promise of /formats, asked once per page load

export function loadOutputs() {
  if (!outputs) {
    outputs = getJson("/formats").catch((err) => {
      outputs = null; // asked again next time
      throw err;
    });
  }
  return outputs;
}

// The page showing the article with [start, end) highlighted: the page's own URL state, as the
// API's permalinks are.
export function permalink(id, start = null, end = null) {
  const p = new URLSearchParams({ article: id });
  if (start !== null && end !== null) {
    p.set("start", String(start));
    p.set("end", String(end));
  }
  return new URL(`/?${p}`, location.origin).href;
}

// Copy `text`; `say` tells the outcome in words (a role=status line reads it out).
export async function copyText(text, say) {
  try {
    await navigator.clipboard.writeText(text);
    say("Copied.");
  } catch {
    say("Could not copy: select the text and copy it.");
  }
}

function savedStyle() {
  try {
    return localStorage.getItem(STYLE_KEY) || "apa";
  } catch {
    return "apa";
  }
}

function button(text, className, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  if (title) b.title = title;
  return b;
}

// The Cite and Link buttons of an article or a span of it, a status line, and the citation
// panel the Cite button opens: `{ buttons, panel }`, for the caller to place.
export function citeControls(id, start, end, key) {
  const status = document.createElement("span");
  status.className = "copy-status";
  status.setAttribute("role", "status");
  const say = (text) => { status.textContent = text; };

  const link = button("Link", "link-button link-copy", "Copy a link to these exact words");
  link.addEventListener("click", () => copyText(permalink(id, start, end), (t) => say(t === "Copied." ? "Link copied." : t)));

  const panel = document.createElement("div");
  panel.className = "cite-panel";
  panel.id = `cite-${key}`;
  panel.hidden = true;
  const cite = button("Cite", "link-button cite-button", "Cite this in a style, and copy it");
  cite.setAttribute("aria-expanded", "false");
  cite.setAttribute("aria-controls", panel.id);
  let built = false;
  cite.addEventListener("click", () => {
    const open = cite.getAttribute("aria-expanded") !== "true";
    cite.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (open && !built) {
      built = true;
      buildPanel(panel, id, start, end, say);
    }
  });
  return { buttons: [cite, link, status], panel };
}

async function buildPanel(panel, id, start, end, say) {
  const row = document.createElement("div");
  row.className = "cite-row";
  const label = document.createElement("label");
  label.textContent = "Style ";
  const select = document.createElement("select");
  select.className = "cite-style";
  label.append(select);
  const copy = button("Copy citation", "more-button cite-copy");
  row.append(label, copy);
  const quote = document.createElement("blockquote");
  quote.className = "cite-quote";
  quote.hidden = true;
  const text = document.createElement("p");
  text.className = "cite-text";
  panel.replaceChildren(row, quote, text);
  let current = "";
  copy.addEventListener("click", () => copyText(current, (t) => say(t === "Copied." ? "Citation copied." : t)));

  let styles;
  try {
    styles = (await loadOutputs()).styles;
  } catch (err) {
    text.textContent = messageOf(err);
    return;
  }
  for (const s of styles) select.append(new Option(s.label, s.name));
  select.value = styles.some((s) => s.name === savedStyle()) ? savedStyle() : styles[0].name;
  const show = async () => {
    copy.disabled = true;
    const p = new URLSearchParams({ style: select.value });
    if (start !== null && end !== null) {
      p.set("start", String(start));
      p.set("end", String(end));
    }
    try {
      const c = await getJson(`${articleUrl(id)}/cite?${p}`);
      current = c.text;
      renderCitation(text, c);
      quote.hidden = !c.quote;
      quote.textContent = c.quote ? `“${c.quote.trim()}”` : "";
      copy.disabled = false;
    } catch (err) {
      text.textContent = messageOf(err);
    }
  };
  select.addEventListener("change", () => {
    try {
      localStorage.setItem(STYLE_KEY, select.value);
    } catch {
      // no storage: the choice lasts this panel
    }
    show();
  });
  await show();
}

// The citation as text nodes, its italic spans (code points) in <i>; entries (BibTeX, RIS) kept
// on their lines.
function renderCitation(box, c) {
  const index = codeUnitIndex(c.text);
  const nodes = [];
  let at = 0;
  for (const [a, b] of c.italics || []) {
    const [from, to] = [index(a), index(b)];
    if (from > at) nodes.push(document.createTextNode(c.text.slice(at, from)));
    const i = document.createElement("i");
    i.textContent = c.text.slice(from, to);
    nodes.push(i);
    at = to;
  }
  nodes.push(document.createTextNode(c.text.slice(at)));
  box.replaceChildren(...nodes);
  box.classList.toggle("cite-entry", c.text.includes("\n"));
}

// "Export all: CSV · JSON Lines · BibTeX · RIS": links that download the search's results.
export async function renderExport(box, s) {
  let data;
  try {
    data = await loadOutputs();
  } catch {
    box.hidden = true;
    return;
  }
  box.replaceChildren("Export all results: ");
  data.formats.forEach((f, i) => {
    if (i > 0) box.append(" · ");
    const a = document.createElement("a");
    a.href = searchUrl(s, { format: f.name });
    a.textContent = f.label;
    a.setAttribute("download", "");
    a.dataset.format = f.name;
    a.title = `Up to ${data.export_limit.toLocaleString("en")} results as a .${f.extension} file`;
    box.append(a);
  });
  box.hidden = false;
}
