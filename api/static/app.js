// policy-search web page: plain JS, no framework, no build step.
// The URL's query string is the page's state; API data is only ever rendered as text nodes.
"use strict";

(() => {
  const PAGE_SIZE = 10;
  const MORE_K = 100;
  const DEBOUNCE_MS = 250;
  const SPINNER_MS = 300;
  const MODES = ["hybrid", "dense", "lexical"];
  const FILTERS = ["source", "date_from", "date_to"];
  const UNREACHABLE = "The search service is not reachable. Check that it is running, then try again.";

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("search-form"), q: $("q"), source: $("source"), dateFrom: $("date_from"),
    dateTo: $("date_to"), status: $("status"), spinner: $("spinner"), error: $("error"),
    hint: $("hint"), corpusInfo: $("corpus-info"), resultsView: $("results-view"),
    results: $("results"), empty: $("empty"), pager: $("pager"), prev: $("prev"),
    next: $("next"), range: $("range"), articleView: $("article-view"), back: $("back"),
    articleTitle: $("article-title"), articleMeta: $("article-meta"),
    articleText: $("article-text"),
  };

  let state = readState(location.search);
  let seq = 0;                // the newest request; older answers are ignored
  let controller = null;      // aborts the request in flight when a newer one starts
  let typingEntry = false;    // the current history entry was pushed by typing (replace it)
  let debounceTimer = 0;
  let pendingScroll = null;   // scroll position to restore after back/forward
  let statsLoaded = false;    // the source list came from /stats (retried after a search works)

  // ---- state <-> URL ------------------------------------------------------------------------

  function readState(search) {
    const p = new URLSearchParams(search);
    const mode = p.get("mode");
    const page = parseInt(p.get("page") || "1", 10);
    const start = parseInt(p.get("start") || "", 10);
    const end = parseInt(p.get("end") || "", 10);
    return {
      q: (p.get("q") || "").trim(),
      source: p.get("source") || "",
      date_from: (p.get("date_from") || "").trim(),
      date_to: (p.get("date_to") || "").trim(),
      mode: MODES.includes(mode) ? mode : "hybrid",
      page: page >= 1 ? page : 1,
      article: p.get("article") || "",
      start: Number.isFinite(start) ? start : null,
      end: Number.isFinite(end) ? end : null,
    };
  }

  function toUrl(s) {
    const p = new URLSearchParams();
    if (s.q) p.set("q", s.q);
    for (const f of FILTERS) if (s[f]) p.set(f, s[f]);
    if (s.mode !== "hybrid") p.set("mode", s.mode);
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

  function searchState(s) {
    return { ...s, article: "", start: null, end: null };
  }

  function formState() {
    const checked = el.form.querySelector('input[name="mode"]:checked');
    return {
      q: el.q.value.trim(), source: el.source.value, date_from: el.dateFrom.value.trim(),
      date_to: el.dateTo.value.trim(), mode: checked ? checked.value : "hybrid", page: 1,
      article: "", start: null, end: null,
    };
  }

  function syncForm() {
    if (el.q.value.trim() !== state.q) el.q.value = state.q;
    ensureSourceOption(state.source);
    el.source.value = state.source;
    el.dateFrom.value = state.date_from;
    el.dateTo.value = state.date_to;
    for (const radio of el.form.querySelectorAll('input[name="mode"]')) {
      radio.checked = radio.value === state.mode;
    }
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

  // ---- rendering --------------------------------------------------------------------------

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

  function setStatus(text) {
    if (el.status.textContent !== text) el.status.textContent = text;
  }

  function setSpinner(on) {
    el.spinner.hidden = !on;
    document.body.classList.toggle("busy", on);
  }

  function showError(message) {
    el.error.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = "Something went wrong. ";
    el.error.append(strong, message);
    el.error.hidden = false;
    setStatus("");
  }

  function hideError() {
    el.error.hidden = true;
    el.error.replaceChildren();
  }

  // ---- requests ---------------------------------------------------------------------------

  class ApiError extends Error {}

  async function getJson(url, signal) {
    let response;
    try {
      response = await fetch(url, { signal, headers: { Accept: "application/json" } });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(UNREACHABLE);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      if (err.name === "AbortError") throw err;
    }
    if (!response.ok) {
      const said = body && typeof body.error === "string" && body.error;
      throw new ApiError(said || `The search service answered with status ${response.status}.`);
    }
    if (body === null) throw new ApiError("The search service sent an answer that is not JSON.");
    return body;
  }

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
      onData(data);
    } catch (err) {
      if (mine !== seq || err.name === "AbortError") return;
      el.results.replaceChildren();
      el.empty.hidden = true;
      el.pager.hidden = true;
      el.articleTitle.textContent = "The article could not be loaded";
      showError(err instanceof ApiError ? err.message : UNREACHABLE);
    } finally {
      clearTimeout(timer);
      if (mine === seq) setSpinner(false);
    }
  }

  function searchUrl(s, extra) {
    const p = new URLSearchParams({ q: s.q, mode: s.mode });
    for (const f of FILTERS) if (s[f]) p.set(f, s[f]);
    for (const [key, value] of Object.entries(extra)) p.set(key, String(value));
    return `/search?${p}`;
  }

  function articleUrl(id) {
    return `/articles/${id.split("/").map(encodeURIComponent).join("/")}`;
  }

  // ---- search results ---------------------------------------------------------------------

  function runSearch() {
    const s = state;
    if (el.hint.hidden === false || el.articleView.hidden === false) {
      el.results.replaceChildren();
      el.empty.hidden = true;
      el.pager.hidden = true;
    }
    showView("results");
    document.title = `${s.q} – policy-search`;
    const offset = (s.page - 1) * PAGE_SIZE;
    load(searchUrl(s, { group: true, k: PAGE_SIZE, offset }), (data) => renderResults(data, s));
  }

  function renderResults(data, s) {
    const hits = data.results || [];
    const offset = (s.page - 1) * PAGE_SIZE;
    if (!statsLoaded) loadStats();
    el.results.replaceChildren(...hits.map((hit) => resultItem(hit, s)));
    el.empty.hidden = hits.length > 0;
    if (hits.length === 0) {
      el.empty.replaceChildren(noResults(s, data.total));
      setStatus(`No results for “${s.q}”.`);
    } else {
      const range = `Results ${offset + 1}–${offset + hits.length} of ${data.total}`;
      setStatus(`${range} for “${s.q}”.`);
      el.range.textContent = range;
    }
    el.prev.disabled = s.page <= 1;
    el.next.disabled = offset + hits.length >= data.total;
    el.pager.hidden = el.prev.disabled && el.next.disabled;
    if (pendingScroll !== null) {
      window.scrollTo(0, pendingScroll);
      pendingScroll = null;
    }
  }

  function noResults(s, total) {
    const frag = document.createDocumentFragment();
    const p = document.createElement("p");
    p.className = "empty-title";
    if (total > 0 && s.page > 1) {
      p.textContent = `Page ${s.page} is past the last result.`;
      frag.append(p);
      return frag;
    }
    p.textContent = `No articles match “${s.q}”.`;
    const tip = document.createElement("p");
    const filtered = FILTERS.some((f) => s[f]);
    tip.textContent = filtered
      ? "Try removing the source or date filters, or other words."
      : "Try other words, fewer words, or a different “Match by” setting.";
    frag.append(p, tip);
    return frag;
  }

  function resultItem(hit, s) {
    const li = document.createElement("li");
    li.className = "hit";
    const h3 = document.createElement("h3");
    const title = document.createElement("a");
    title.textContent = hit.article.title || hit.article.id;
    const safe = safeUrl(hit.article.url);
    if (safe) {
      title.href = safe;
    } else {
      setArticleLink(title, hit, s);
    }
    h3.append(title);
    li.append(h3, metaLine(hit.article), passageBlock(hit.passage));

    const actions = document.createElement("p");
    actions.className = "actions";
    const context = document.createElement("a");
    context.textContent = "Read in context";
    setArticleLink(context, hit, s);
    actions.append(context);
    li.append(actions);
    if (hit.more > 0) addMore(li, actions, hit, s);
    return li;
  }

  function setArticleLink(link, hit, s) {
    const target = { ...s, article: hit.article.id, start: hit.passage.start, end: hit.passage.end };
    link.href = toUrl(target);
    link.addEventListener("click", (event) => {
      if (!plainClick(event)) return;
      event.preventDefault();
      history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, "");
      typingEntry = false;
      navigate(target, "push", { fromResults: true });
    });
  }

  function metaLine(article) {
    const p = document.createElement("p");
    p.className = "meta";
    const parts = [article.source, article.author, article.date].filter(Boolean);
    parts.forEach((part, i) => {
      if (i > 0) p.append(" · ");
      const span = document.createElement("span");
      span.textContent = part;
      p.append(span);
    });
    if (parts.length === 0) p.textContent = "No source or date";
    return p;
  }

  function passageBlock(passage) {
    const p = document.createElement("p");
    p.className = "passage";
    p.append(highlighted(passage.text, passage.highlights || []));
    return p;
  }

  function addMore(li, actions, hit, s) {
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
      await loadMore(list, hit, s);
    });
  }

  async function loadMore(list, hit, s) {
    list.replaceChildren(note("Loading…"));
    list.setAttribute("aria-busy", "true");
    try {
      const data = await getJson(searchUrl(s, { group: false, k: MORE_K, offset: 0 }));
      const others = (data.results || []).filter(
        (h) => h.article.id === hit.article.id && h.passage.id !== hit.passage.id,
      );
      others.sort((a, b) => a.passage.start - b.passage.start);
      list.replaceChildren(...others.map((other) => morePassage(other, s)));
      if (others.length === 0) {
        list.replaceChildren(note("The other matching passages rank below the first 100 hits: read the article in context."));
      }
    } catch (err) {
      list.replaceChildren(note(err instanceof ApiError ? err.message : UNREACHABLE));
    } finally {
      list.removeAttribute("aria-busy");
    }
  }

  function morePassage(hit, s) {
    const li = document.createElement("li");
    const context = document.createElement("a");
    context.textContent = "Read in context";
    context.className = "small";
    setArticleLink(context, hit, s);
    li.append(passageBlock(hit.passage), context);
    return li;
  }

  function note(text) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = text;
    return li;
  }

  // ---- article view -----------------------------------------------------------------------

  function showArticle() {
    const s = state;
    showView("article");
    el.articleTitle.textContent = "Loading the article…";
    el.articleMeta.replaceChildren();
    el.articleText.replaceChildren();
    const back = searchState(s);
    el.back.href = toUrl(back);
    el.back.textContent = s.q ? "← Back to results" : "← New search";
    load(articleUrl(s.article), (article) => renderArticle(article, s));
  }

  function renderArticle(article, s) {
    document.title = `${article.title} – policy-search`;
    el.articleTitle.textContent = article.title || article.id;
    const meta = metaLine(article);
    el.articleMeta.replaceChildren(...meta.childNodes);
    const safe = safeUrl(article.url);
    if (safe) {
      const link = document.createElement("a");
      link.href = safe;
      link.textContent = "Original article";
      el.articleMeta.append(el.articleMeta.childNodes.length ? " · " : "", link);
    }
    el.articleText.replaceChildren(articleBody(article.text || "", s.start, s.end));
    setStatus(`Showing the article “${article.title}”.`);
    el.articleTitle.focus({ preventScroll: true });
    const mark = el.articleText.querySelector("mark");
    if (mark) {
      mark.scrollIntoView({ block: "center" });
    } else {
      window.scrollTo(0, 0);
    }
  }

  // Paragraphs (split on blank lines) as <p> text, the passage [start, end) in <mark>s.
  function articleBody(text, start, end) {
    const frag = document.createDocumentFragment();
    if (!text) {
      frag.append(paragraph("This article has no text."));
      return frag;
    }
    const index = codeUnitIndex(text);
    const from = start === null ? -1 : index(start);
    const to = end === null ? -1 : index(end);
    const breaks = /\n[^\S\n]*\n\s*/g;
    let at = 0;
    for (;;) {
      const match = breaks.exec(text);
      const stop = match ? match.index : text.length;
      if (stop > at) frag.append(paragraphWithMark(text, at, stop, from, to));
      if (!match) break;
      at = match.index + match[0].length;
    }
    return frag;
  }

  function paragraphWithMark(text, a, b, from, to) {
    const p = paragraph("");
    const markStart = Math.max(a, from);
    const markEnd = Math.min(b, to);
    if (from < 0 || markEnd <= markStart) {
      p.textContent = text.slice(a, b);
      return p;
    }
    const mark = document.createElement("mark");
    mark.className = "passage-mark";
    mark.textContent = text.slice(markStart, markEnd);
    p.append(text.slice(a, markStart), mark, text.slice(markEnd, b));
    return p;
  }

  function paragraph(text) {
    const p = document.createElement("p");
    p.textContent = text;
    return p;
  }

  // ---- text helpers -----------------------------------------------------------------------

  // The API counts characters (code points); JS strings count UTF-16 units.
  function codeUnitIndex(text) {
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

  // Text nodes with <mark>s around the [start, end) spans: never HTML parsing.
  function highlighted(text, spans) {
    const frag = document.createDocumentFragment();
    const index = codeUnitIndex(text);
    const sorted = spans.map(([a, b]) => [index(a), index(b)]).sort((x, y) => x[0] - y[0]);
    let at = 0;
    for (const [a0, b] of sorted) {
      const a = Math.max(a0, at);
      if (b <= a) continue;
      if (a > at) frag.append(text.slice(at, a));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(a, b);
      frag.append(mark);
      at = b;
    }
    if (at < text.length) frag.append(text.slice(at));
    return frag;
  }

  // Only http(s) links from article data; `javascript:` and friends are dropped.
  function safeUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function plainClick(event) {
    return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
  }

  // ---- sources from /stats ----------------------------------------------------------------

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
    const options = (stats.sources || []).map(
      (s) => new Option(`${s.source} (${s.articles})`, s.source),
    );
    el.source.replaceChildren(new Option("All sources", ""), ...options);
    ensureSourceOption(state.source);
    el.source.value = state.source;
    const sources = stats.sources ? stats.sources.length : 0;
    let info = `The index holds ${stats.articles} articles from ${sources} source${sources === 1 ? "" : "s"}`;
    if (stats.date_min && stats.date_max) info += `, dated ${stats.date_min} to ${stats.date_max}`;
    el.corpusInfo.textContent = `${info}.`;
  }

  // ---- events -----------------------------------------------------------------------------

  function onTyped() {
    const next = formState();
    if (toUrl(next) === toUrl(searchState(state)) && !state.article) return;
    navigate(next, typingEntry ? "replace" : "push");
    typingEntry = true;
  }

  function commit() {
    clearTimeout(debounceTimer);
    const how = typingEntry ? "replace" : "push";
    typingEntry = false;
    navigate(formState(), how);
  }

  function goToPage(page) {
    typingEntry = false;
    navigate({ ...searchState(state), page }, "push");
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
  el.prev.addEventListener("click", () => goToPage(Math.max(1, state.page - 1)));
  el.next.addEventListener("click", () => goToPage(state.page + 1));

  el.back.addEventListener("click", (event) => {
    if (!plainClick(event)) return;
    event.preventDefault();
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
    typingEntry = false;
    navigate(readState(new URL(link.href).search), "push");
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

  history.replaceState(history.state, "", toUrl(state));
  render();
  loadStats();
})();
