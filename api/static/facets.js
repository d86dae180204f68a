// Beside the results: the timeline (matching articles per year, a bar chart in inline SVG), the
// countries, sources and tags with their counts, and the active filters. Values from the API are
// only ever text nodes and attributes, never HTML.

const SVG = "http://www.w3.org/2000/svg";
const YEARLY_SPAN = 40; // more years than this are drawn by decade

function svg(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// The year facet as bins: one per year over the span, or one per decade past YEARLY_SPAN.
export function yearBins(years) {
  const counts = new Map();
  for (const item of years || []) {
    const year = parseInt(item.value, 10);
    if (Number.isFinite(year) && /^\d{1,4}$/.test(String(item.value).trim())) {
      counts.set(year, (counts.get(year) || 0) + item.count);
    }
  }
  if (counts.size === 0) return [];
  const min = Math.min(...counts.keys());
  const max = Math.max(...counts.keys());
  const bins = [];
  if (max - min + 1 <= YEARLY_SPAN) {
    for (let y = min; y <= max; y += 1) {
      bins.push({ label: String(y), from: String(y), to: String(y), count: counts.get(y) || 0 });
    }
    return bins;
  }
  for (let d = Math.floor(min / 10) * 10; d <= max; d += 10) {
    let count = 0;
    for (let y = d; y < d + 10; y += 1) count += counts.get(y) || 0;
    bins.push({ label: `${d}s`, from: String(d), to: String(d + 9), count });
  }
  return bins;
}

// What one bin of `bins` covers: "year" or "decade".
export function binUnit(bins) {
  return bins.length && bins[0].from !== bins[0].to ? "decade" : "year";
}

// Which bins get a label under the axis: the first and the last, and between them one every
// `every` bins so that labels stand at least 56 px apart.
function tickIndexes(n, step) {
  if (n === 1) return [0];
  const every = Math.max(1, Math.ceil(56 / step));
  const ticks = [0];
  for (let i = every; i < n - 1; i += every) if ((n - 1 - i) * step >= 40) ticks.push(i);
  ticks.push(n - 1);
  return n >= 9 || every > 1 ? ticks : [0, n - 1];
}

// The bar chart of `bins` in an SVG `width` px wide, or wider where each bar would be narrower
// than `minStep` px (its box then scrolls). `selected(bin)` says which bars the date
// filter covers; `onPick(bin)` runs on a click, Enter or Space. One tab stop: the arrow keys,
// Home and End move between the bars (a roving tabindex).
export function timeline(bins, { width: boxWidth, height = 132, minStep = 0, selected, onPick, readout, summary }) {
  const top = 14;
  const base = height - 22;
  const n = bins.length;
  const width = Math.max(boxWidth, Math.ceil(n * minStep));
  const step = width / n;
  const gap = step > 6 ? Math.min(4, step * 0.2) : 0.5;
  const peak = Math.max(1, ...bins.map((b) => b.count));
  const anySelected = bins.some(selected);
  const root = svg("svg", {
    width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Matching articles per ${binUnit(bins)}: choose a bar to filter by its years`,
  });
  root.append(svg("line", { x1: 0, x2: width, y1: base + 0.5, y2: base + 0.5, class: "axis" }));
  const bars = [];
  bins.forEach((bin, i) => {
    const x = i * step;
    const h = bin.count ? Math.max(2, ((base - top) * bin.count) / peak) : 0;
    const g = svg("g", { class: "bar", "data-from": bin.from, "data-to": bin.to });
    const on = selected(bin);
    if (on) g.classList.add("on");
    else if (anySelected) g.classList.add("off");
    const what = `${bin.label}: ${plural(bin.count, "matching article", "matching articles")}`;
    const title = svg("title");
    title.textContent = what;
    g.append(title, svg("rect", { class: "hit-area", x, y: 0, width: step, height: base }));
    const w = Math.max(0.5, Math.min(step - gap, 40)); // few bars stay slim, centred
    g.append(svg("rect", { class: "fill", x: x + (step - w) / 2, y: base - h, width: w, height: h }));
    if (bin.count) {
      g.setAttribute("role", "button");
      g.setAttribute("tabindex", "-1");
      g.setAttribute("aria-label", what);
      g.setAttribute("aria-pressed", String(on));
      g.addEventListener("click", () => onPick(bin));
      g.addEventListener("focus", () => { readout.textContent = what; });
      g.addEventListener("mouseenter", () => { readout.textContent = what; });
      g.addEventListener("blur", () => { readout.textContent = summary; });
      g.addEventListener("mouseleave", () => { readout.textContent = summary; });
      bars.push(g);
    }
    root.append(g);
  });
  const labels = width > boxWidth ? tickIndexes(n, step)
    : n >= 9 ? [0, Math.floor((n - 1) / 2), n - 1] : n > 1 ? [0, n - 1] : [0];
  for (const i of labels) {
    const anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
    const x = anchor === "start" ? 0 : anchor === "end" ? width : (i + 0.5) * step;
    const text = svg("text", { x, y: height - 6, "text-anchor": anchor, class: "tick" });
    text.textContent = bins[i].label;
    root.append(text);
  }
  const peakLabel = svg("text", { x: 0, y: 10, class: "tick" });
  peakLabel.textContent = `${peak} ${peak === 1 ? "article" : "articles"}`;
  root.append(peakLabel);
  if (bars.length) {
    const current = bars.find((g) => g.classList.contains("on")) || bars[bars.length - 1];
    current.setAttribute("tabindex", "0");
    root.addEventListener("keydown", (event) => rove(event, bars));
  }
  return root;
}

function rove(event, bars) {
  const at = bars.indexOf(event.target.closest && event.target.closest(".bar"));
  if (at < 0) return;
  let next = at;
  if (event.key === "ArrowLeft" || event.key === "ArrowDown") next = Math.max(0, at - 1);
  else if (event.key === "ArrowRight" || event.key === "ArrowUp") next = Math.min(bars.length - 1, at + 1);
  else if (event.key === "Home") next = 0;
  else if (event.key === "End") next = bars.length - 1;
  else if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    bars[at].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    return;
  } else return;
  event.preventDefault();
  bars[at].setAttribute("tabindex", "-1");
  bars[next].setAttribute("tabindex", "0");
  bars[next].focus();
  bars[next].scrollIntoView({ block: "nearest", inline: "nearest" });
}

// A list of facet values as toggle buttons: label and count, the whole value as a tooltip.
export function facetValues(items, { facet, label, isActive, onPick, tooltip }) {
  return items.map((item) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "facet-value";
    button.dataset.facet = facet;
    button.dataset.value = item.value;
    const active = isActive(item);
    button.setAttribute("aria-pressed", String(active));
    const name = document.createElement("span");
    name.className = "facet-name";
    name.textContent = label(item);
    const count = document.createElement("span");
    count.className = "facet-count";
    count.textContent = String(item.count);
    count.setAttribute("aria-label", plural(item.count, "article", "articles"));
    button.append(name, count);
    const tip = tooltip && tooltip(item);
    if (tip) button.title = tip;
    button.addEventListener("click", () => onPick(item, active));
    li.append(button);
    return li;
  });
}

// The active filters as removable chips; `chips` are [{key, label, title}].
export function filterChips(chips, onRemove, onClear) {
  const nodes = chips.map((chip) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chip";
    button.dataset.filter = chip.key;
    const text = document.createElement("span");
    text.textContent = chip.label;
    const x = document.createElement("span");
    x.className = "chip-x";
    x.setAttribute("aria-hidden", "true");
    x.textContent = "×";
    button.append(text, x);
    button.setAttribute("aria-label", `Remove the filter ${chip.label}`);
    if (chip.title) button.title = chip.title;
    button.addEventListener("click", () => onRemove(chip));
    return button;
  });
  if (chips.length > 1) {
    const clear = document.createElement("button");
    clear.type = "button";
    clear.className = "chip-clear";
    clear.textContent = "Clear all filters";
    clear.addEventListener("click", onClear);
    nodes.push(clear);
  }
  return nodes;
}
