// Header-map scenarios: one behaviour of Envoy's request header map each (repeated headers, case, pseudo-headers),
// with results in request headers the upstream echoes. The client sends `x-multi` twice ("first", "second").

import { requestHeaders } from "proxy-wasm-as";

/** Runs header-map scenario `sc` if it is one of these; false otherwise. */
export function headerMapScenario(sc: string): bool {
  if (sc == "hdr-replace-repeated") {
    // Envoy's setCopy: every value goes, one stays, as if removed and added (at the end).
    requestHeaders.replace("x-multi", "replaced");
    requestHeaders.replace("x-names-after", regularNames());
    return true;
  }
  if (sc == "hdr-add-repeated") {
    requestHeaders.add("x-multi", "third");
    return true;
  }
  if (sc == "hdr-remove-repeated") {
    requestHeaders.remove("x-multi");
    return true;
  }
  if (sc == "hdr-get-repeated") {
    // proxy_get_header_map_value answers the first value; the pairs show every entry.
    requestHeaders.replace("x-got", orNone(requestHeaders.get("x-multi")));
    requestHeaders.replace("x-got-all", valuesOf("x-multi"));
    return true;
  }
  if (sc == "hdr-case") {
    // Names are case-insensitive on every operation; what the filter adds reaches the upstream lower-cased.
    requestHeaders.replace("x-case-get", orNone(requestHeaders.get("X-Mixed")));
    requestHeaders.replace("X-Replace-Me", "new");
    requestHeaders.remove("X-REMOVE-ME");
    requestHeaders.add("X-Added-Case", "1");
    return true;
  }
  if (sc == "hdr-pseudo") {
    requestHeaders.replace("x-pseudo-method", orNone(requestHeaders.get(":method")));
    requestHeaders.replace("x-pseudo-scheme", orNone(requestHeaders.get(":scheme")));
    requestHeaders.replace("x-pseudo-authority-set", requestHeaders.get(":authority") !== null ? "true" : "false");
    requestHeaders.replace("x-pseudo-path", orNone(requestHeaders.get(":path")));
    requestHeaders.replace(":path", "/rewritten?by=filter");
    requestHeaders.add("x-pseudo-after-add", "1");
    // Pseudo-headers stay ahead of regular ones, whatever was added after them.
    const all = requestHeaders.getAll();
    let order = "";
    for (let i = 0; i < all.length; i++) order += all[i].name.startsWith(":") ? "p" : "r";
    requestHeaders.replace("x-pseudo-order", order);
    return true;
  }
  return false;
}

function regularNames(): string {
  const all = requestHeaders.getAll();
  const out = new Array<string>();
  for (let i = 0; i < all.length; i++) if (!all[i].name.startsWith(":")) out.push(all[i].name);
  return out.join(",");
}

function valuesOf(name: string): string {
  const all = requestHeaders.getAll();
  const out = new Array<string>();
  for (let i = 0; i < all.length; i++) if (all[i].is(name)) out.push(all[i].valueString);
  return out.join("|");
}

function orNone(s: string | null): string {
  return s !== null ? s : "none";
}
