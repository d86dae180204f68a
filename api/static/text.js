// Text from the API as DOM nodes: highlights in <mark>, Markdown markup hidden or shown as
// formatting, never parsed as HTML. Offsets from the API count characters (code points);
// everything here counts UTF-16 units, converted once by `codeUnitIndex`.

// Map a code point offset of `text` to its UTF-16 unit offset (clamped to the text).
export function codeUnitIndex(text) {
  if (!/[\uD800-\uDBFF]/.test(text)) return (i) => Math.max(0, Math.min(i, text.length));
  const units = [];
  let u = 0;
  for (const ch of text) {
    units.push(u);
    u += ch.length;
  }
  units.push(u);
  return (i) => units[Math.max(0, Math.min(i, units.length - 1))];
}

// Code point spans of `text` as UTF-16 unit spans.
export function unitSpans(text, spans) {
  const index = codeUnitIndex(text);
  return (spans || []).map(([a, b]) => [index(a), index(b)]);
}

// The Markdown markup of `text` (2024 UN statements carry some): `hidden` spans to leave out
// (`**`, heading hashes, `---` lines) and `strong` spans to show in bold, in UTF-16 units.
export function markdownSpans(text) {
  const hidden = [];
  const strong = [];
  for (const m of text.matchAll(/^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$/gm)) {
    hidden.push([m.index, m.index + m[0].length]);
  }
  const inRule = (i) => hidden.some(([a, b]) => a <= i && i < b);
  for (const m of text.matchAll(/^[ \t]{0,3}(#{1,6})[ \t]+(?=\S)/gm)) {
    const lineEnd = text.indexOf("\n", m.index);
    hidden.push([m.index, m.index + m[0].length]);
    strong.push([m.index + m[0].length, lineEnd < 0 ? text.length : lineEnd]);
  }
  // Emphasis: `**` (and a `*` touching a word) is markup, hidden; `**` before a word opens bold
  // and after one closes it. A passage may start or end inside bold: an unpaired run is only
  // hidden.
  let open = -1;
  for (const m of text.matchAll(/\*+/g)) {
    const [at, end] = [m.index, m.index + m[0].length];
    if (inRule(at)) continue;
    const opens = !/\s/.test(text[end] || " ");
    const closes = !/\s/.test(text[at - 1] || " ");
    if (!opens && !closes && m[0].length < 2) continue; // a bullet or a lone star
    hidden.push([at, end]); // `**` alone at a passage's edge: bold cut by the sentence split
    if (m[0].length < 2) continue;
    if (closes && open >= 0) {
      if (at > open) strong.push([open, at]);
      open = -1;
    } else if (opens) {
      open = end;
    }
  }
  return { hidden, strong };
}

const inside = (spans, a) => spans.some(([s, e]) => s <= a && a < e);

// Nodes for text[from, to) (UTF-16 units): `marks` spans in <mark class=markClass>, Markdown
// markup hidden and its bold in <strong>.
export function richText(text, { from = 0, to = text.length, marks = [], markClass = "", markdown = null } = {}) {
  const md = markdown || markdownSpans(text);
  const cuts = new Set([from, to]);
  for (const spans of [marks, md.hidden, md.strong]) {
    for (const [a, b] of spans) {
      if (a > from && a < to) cuts.add(a);
      if (b > from && b < to) cuts.add(b);
    }
  }
  const points = [...cuts].sort((x, y) => x - y);
  const runs = [];
  for (let i = 0; i + 1 < points.length; i += 1) {
    const [a, b] = [points[i], points[i + 1]];
    if (b <= a || inside(md.hidden, a)) continue;
    const mark = inside(marks, a);
    const bold = inside(md.strong, a);
    const last = runs[runs.length - 1];
    if (last && last.mark === mark && last.bold === bold) {
      last.text += text.slice(a, b);
    } else {
      runs.push({ text: text.slice(a, b), mark, bold });
    }
  }
  const frag = document.createDocumentFragment();
  for (const run of runs) {
    let node = document.createTextNode(run.text);
    if (run.mark) {
      const mark = document.createElement("mark");
      if (markClass) mark.className = markClass;
      mark.append(node);
      node = mark;
    }
    if (run.bold) {
      const strong = document.createElement("strong");
      strong.append(node);
      node = strong;
    }
    frag.append(node);
  }
  return frag;
}

// Whether text[from, to) shows anything once its Markdown markup is hidden.
export function showsText(text, from, to, markdown) {
  let at = from;
  const spans = markdown.hidden.filter(([a, b]) => b > from && a < to).sort((x, y) => x[0] - y[0]);
  for (const [a, b] of spans) {
    if (/\S/.test(text.slice(at, Math.max(at, a)))) return true;
    at = Math.max(at, b);
  }
  return /\S/.test(text.slice(at, to));
}

// Only http(s) links from article data; `javascript:` and friends are dropped.
export function safeUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st.
export function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

// [start, end) spans (UTF-16 units) of the whole words `words` in `text`, any case.
export function wordSpans(text, words) {
  const alternatives = [...new Set(words.map((w) => w.trim()).filter(Boolean))]
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!alternatives.length) return [];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`, "giu");
  return [...text.matchAll(pattern)].map((m) => [m.index, m.index + m[0].length]);
}

// The distinct words at `spans` (code points) of `text`, in the order they first appear.
export function spannedWords(text, spans) {
  const units = unitSpans(text, spans);
  const seen = new Map();
  for (const [a, b] of units) {
    const word = text.slice(a, b);
    const key = word.toLocaleLowerCase("en");
    if (word.trim() && !seen.has(key)) seen.set(key, word);
  }
  return [...seen.values()];
}
