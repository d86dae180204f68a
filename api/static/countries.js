// Countries: the names the API gave (its `country` facet) or the browser knows, the filter's value
// for what a person typed, and the suggestions of the country field.

const regionNames = (() => {
  try {
    return new Intl.DisplayNames(["en"], { type: "region" });
  } catch {
    return null;
  }
})();
const knownCountries = new Map();

// Remember country names the API gave (its `country` facet).
export function learnCountries(items) {
  for (const item of items || []) if (item.name) knownCountries.set(item.value, item.name);
}

// A country's English name from its ISO code: the API's name, else the browser's, else the code.
export function countryName(code) {
  if (knownCountries.has(code)) return knownCountries.get(code);
  if (regionNames && /^[A-Z]{2}$/.test(code)) {
    try {
      const name = regionNames.of(code);
      if (name && name !== code) return name;
    } catch {
      // an unknown code: the code itself
    }
  }
  return code;
}

// Region codes that name no country the index knows (unions, reserved and private-use codes).
const NOT_COUNTRIES = new Set(["AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"]);

// Every country the browser can name, as [code, name], by name; the API's names win.
export function allCountries() {
  const found = new Map(knownCountries);
  if (regionNames) {
    const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (const a of letters) {
      for (const b of letters) {
        const code = a + b;
        if (found.has(code) || NOT_COUNTRIES.has(code)) continue;
        try {
          const name = regionNames.of(code);
          if (name && name !== code && !/unknown/i.test(name)) found.set(code, name);
        } catch {
          // not a region code
        }
      }
    }
  }
  return [...found].sort((x, y) => x[1].localeCompare(y[1], "en"));
}

// What a person typed in the country field as the filter's value: the alpha-2 code of a name or
// code the page knows, else the text as typed (the API resolves it, or says it does not know it).
export function countryValue(typed) {
  const text = typed.trim();
  if (/^[a-z]{2,3}$/i.test(text)) return text.toUpperCase();
  const lower = text.toLocaleLowerCase("en");
  for (const [code, name] of allCountries()) {
    if (name.toLocaleLowerCase("en") === lower) return code;
  }
  return text;
}

// The country field's suggestions: the search's countries (`listed`, its facet), with their
// counts, then every other country the browser can name.
export function countryOptions(listed) {
  const first = new Set(listed.map((item) => item.value));
  const options = listed.map((item) => {
    const option = new Option(`${item.value} · ${item.count} article${item.count === 1 ? "" : "s"}`);
    option.value = item.name || countryName(item.value);
    return option;
  });
  for (const [code, name] of allCountries()) {
    if (first.has(code)) continue;
    const option = new Option(code);
    option.value = name;
    options.push(option);
  }
  return options;
}
