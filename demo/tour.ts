// The main job: the four stock filters chained in one real Envoy, deployed the way Istio would deploy them
// (WasmPlugin resources rendered by `pwas deploy`, translated and run by `pwas preview`), then a short
// scripted tour that shows each filter at work. Run with `make demo`; `KEEP=1 make demo` leaves it running.
import { createHmac } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildFilter } from "../src/build/build";
import { planDeploy } from "../src/mesh/deploy";
import { startPreview, formatChain } from "../src/mesh/preview";

const ROOT = resolve(__dirname, "..");
const WORK = join(ROOT, ".cache", "demo");
const SECRET = Buffer.from("demo-signing-secret-0123456789abcdef", "utf8");
const RATE_LIMIT = 3;

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");
/** An HS256 JWT for `sub`, valid for an hour, minted now with node:crypto. */
function token(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT", kid: "demo" }))}.${b64url(JSON.stringify({ iss: "https://auth.demo", aud: "shop", sub, iat: now, exp: now + 3600 }))}`;
  return `${input}.${b64url(createHmac("sha256", SECRET).update(input).digest())}`;
}

/** The four WasmPlugins: what a platform team would apply to a namespace. */
const PLUGINS = [
  {
    filter: "auth", phase: "AUTHN", priority: 10, failStrategy: "FAIL_CLOSE",
    config: {
      providers: {
        demo: {
          issuer: "https://auth.demo", audiences: ["shop"],
          local_jwks: { inline_string: JSON.stringify({ keys: [{ kty: "oct", kid: "demo", alg: "HS256", k: b64url(SECRET) }] }) },
          claim_to_headers: [{ header_name: "x-user", claim_name: "sub" }],
        },
      },
      rules: [{ match: { prefix: "/" }, requires: { provider_name: "demo" } }],
    },
  },
  {
    filter: "ratelimit", phase: "AUTHZ", priority: 10, failStrategy: "FAIL_OPEN",
    config: {
      rate_limits: [{ actions: [{ request_headers: { header_name: "x-user", descriptor_key: "user" } }] }],
      descriptors: [{ entries: [{ key: "user" }], token_bucket: { max_tokens: RATE_LIMIT, tokens_per_fill: RATE_LIMIT, fill_interval: "60s" } }],
      token_bucket: { max_tokens: 1000, tokens_per_fill: 1000, fill_interval: "1s" },
      enable_x_ratelimit_headers: "DRAFT_VERSION_03",
    },
  },
  {
    filter: "routing", phase: "UNSPECIFIED_PHASE", priority: 20, failStrategy: "FAIL_CLOSE",
    config: {
      http: [
        { name: "jason", match: [{ headers: { "x-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
        { name: "canary", route: [{ destination: { host: "reviews", subset: "v1" }, weight: 75 }, { destination: { host: "reviews", subset: "v3" }, weight: 25 }] },
      ],
      sticky_key: { header: "x-user" },
    },
  },
  {
    filter: "fault", phase: "UNSPECIFIED_PHASE", priority: 10, failStrategy: "FAIL_OPEN",
    config: { delay: { header_delay: {}, percentage: { numerator: 100 } }, abort: { header_abort: {}, percentage: { numerator: 100 } } },
  },
];

interface Step { what: string; expected: string; observed: string; ok: boolean }

async function main(): Promise<number> {
  mkdirSync(WORK, { recursive: true });
  const files: string[] = [];
  for (const p of PLUGINS) {
    const dir = join(ROOT, "filters", p.filter);
    process.stderr.write(`• building filters/${p.filter} and rendering its WasmPlugin\n`);
    const wasm = (await buildFilter(dir)).wasmPath;
    const plan = await planDeploy({
      target: wasm, image: `file://${wasm}`, name: p.filter, namespace: "shop", phase: p.phase,
      priority: p.priority, failStrategy: p.failStrategy, config: JSON.stringify(p.config), noBuild: true,
    });
    const file = join(WORK, `${p.filter}.yaml`);
    writeFileSync(file, plan.yaml);
    files.push(file);
  }
  const preview = await startPreview({ files, upstreams: ["v1", "v2", "v3"], progress: (s) => process.stderr.write(`• ${s}\n`) });
  const steps: Step[] = [];
  const check = (what: string, expected: string, observed: string, ok: boolean) => steps.push({ what, expected, observed, ok });
  try {
    const url = preview.listenerUrl.replace(/\/$/, "");
    const get = (path: string, headers: Record<string, string> = {}) => fetch(url + path, { headers });
    const upstreamOf = async (r: Response) => (r.status === 200 ? ((await r.json()) as { upstream?: string }).upstream ?? "?" : `HTTP ${r.status}`);

    let r = await get("/reviews/1");
    check("auth: no token", "401 + WWW-Authenticate", `${r.status} ${r.headers.get("www-authenticate") ?? ""}`.trim(), r.status === 401 && !!r.headers.get("www-authenticate"));
    r = await get("/reviews/1", { authorization: "Bearer " + token("kim").slice(0, -4) + "AAAA" });
    check("auth: tampered token", "401", String(r.status), r.status === 401);
    r = await get("/reviews/1", { authorization: "Bearer " + token("kim") });
    const kimUpstream = await upstreamOf(r);
    check("auth: valid token for kim", "200", String(r.status), r.status === 200);

    r = await get("/reviews/1", { authorization: "Bearer " + token("jason") });
    const jason = await upstreamOf(r);
    check("routing: end-user jason", "reviews v2", jason, jason === "v2");
    check("routing: kim (sticky 75/25 canary v1/v3)", "v1 or v3", kimUpstream, kimUpstream === "v1" || kimUpstream === "v3");
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const u = await upstreamOf(await get("/reviews/1", { authorization: "Bearer " + token(`user-${i}`) }));
      counts[u] = (counts[u] ?? 0) + 1;
    }
    check("routing: 40 other users split 75/25", "mostly v1, some v3, no v2", JSON.stringify(counts), (counts.v1 ?? 0) > (counts.v3 ?? 0) && !counts.v2);

    const statuses: number[] = [];
    const ana = token("ana");
    for (let i = 0; i < RATE_LIMIT + 2; i++) statuses.push((await get("/reviews/1", { authorization: "Bearer " + ana })).status);
    const expected = [...Array(RATE_LIMIT).fill(200), 429, 429];
    check(`ratelimit: ana sends ${RATE_LIMIT + 2} requests (limit ${RATE_LIMIT}/min per user)`, expected.join(","), statuses.join(","), statuses.join(",") === expected.join(","));

    r = await get("/reviews/1", { authorization: "Bearer " + token("jason"), "x-envoy-fault-abort-request": "503" });
    check("fault: abort requested by header", "503", String(r.status), r.status === 503);
    const t0 = Date.now();
    r = await get("/reviews/1", { authorization: "Bearer " + token("jason"), "x-envoy-fault-delay-request": "300" });
    const ms = Date.now() - t0;
    check("fault: 300 ms delay requested by header", "200 after ≥ 300 ms", `${r.status} after ${ms} ms`, r.status === 200 && ms >= 300);

    printSummary(preview.chain.length ? formatChain(preview.chain) : [], steps, url);
    if (process.env.KEEP === "1") {
      console.log(`\nStill running. Try:\n  curl -i ${url}/reviews/1\n  curl -i -H 'authorization: Bearer ${token("jason")}' ${url}/reviews/1\nCtrl-C to stop.`);
      await new Promise<void>((done) => { process.once("SIGINT", () => done()); process.once("SIGTERM", () => done()); });
    }
  } finally {
    await preview.stop();
  }
  return steps.every((s) => s.ok) ? 0 : 1;
}

function printSummary(chain: string[], steps: Step[], url: string): void {
  console.log("\nproxy-wasm-as demo: four stock filters in one Envoy, deployed as Istio WasmPlugins\n");
  for (const line of chain) console.log("  " + line);
  console.log(`\nlistener ${url}, upstreams v1 / v2 / v3 (echo servers)\n`);
  const w = Math.max(...steps.map((s) => s.what.length));
  const e = Math.max(...steps.map((s) => s.expected.length));
  for (const s of steps) console.log(`  ${s.ok ? "✓" : "✗"} ${s.what.padEnd(w)}  expected ${s.expected.padEnd(e)}  got ${s.observed}`);
  const passed = steps.filter((s) => s.ok).length;
  console.log(`\n${passed} of ${steps.length} steps as expected`);
}

main().then((code) => process.exit(code), (err) => {
  console.error(`demo failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
