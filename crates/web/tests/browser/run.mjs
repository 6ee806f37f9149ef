// Runs every journey of journeys/*.mjs in Debian's Chromium through playwright-core, each in a
// fresh browser context, and fails a journey on any console error, page error, failed request,
// HTTP status >= 400 it did not declare expected, or request to another host than the servers.
// Screenshots of each journey's end (and of each shot() call) go to $PM_SCREENSHOTS.
// Usage and the seeded data: README.md. Exit status: 0 when every journey passed.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const base = (env.PM_BASE_OPEN || "").replace(/\/$/, "");
if (!base) {
  console.error("PM_BASE_OPEN is not set: start a server (see README.md) and pass its URL, e.g. http://127.0.0.1:8080");
  process.exit(2);
}
const keyed = env.PM_BASE_KEYS
  ? { base: env.PM_BASE_KEYS.replace(/\/$/, ""), readKey: env.PM_READ_KEY || "", writeKey: env.PM_WRITE_KEY || "" }
  : null;
const allowedOrigins = new Set([new URL(base).origin, ...(keyed ? [new URL(keyed.base).origin] : [])]);

const shots = env.PM_SCREENSHOTS || mkdtempSync(join(tmpdir(), "pm-screenshots-"));
mkdirSync(shots, { recursive: true });
// The folder shows this run only: an earlier run's screenshots (a failure since fixed) would mislead.
for (const file of readdirSync(shots)) {
  if (file.endsWith(".png")) rmSync(join(shots, file));
}
const only = (env.PM_JOURNEYS || "").split(",").map((s) => s.trim()).filter(Boolean);
const JOURNEY_TIMEOUT_MS = Number(env.PM_JOURNEY_TIMEOUT_MS || 60_000);

/** Throws `message` unless `condition` holds. */
function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

async function loadJourneys() {
  const dir = join(here, "journeys");
  const files = readdirSync(dir).filter((f) => f.endsWith(".mjs")).sort();
  const journeys = [];
  for (const file of files) {
    const module = await import(pathToFileURL(join(dir, file)).href);
    if (typeof module.run !== "function") throw new Error(`journeys/${file} exports no run() function`);
    journeys.push({ file, name: module.name || file.replace(/\.mjs$/, ""), run: module.run });
  }
  return journeys.filter((j) => only.length === 0 || only.some((o) => j.file.includes(o) || j.name.includes(o)));
}

/** One journey: a fresh context whose pages are all watched, and the helpers the journey gets. */
async function runJourney(browser, journey) {
  const problems = [];
  const allowed = []; // { status, url } responses the journey declared expected
  const contexts = [];
  const prefix = slug(journey.file.replace(/\.mjs$/, ""));
  let shotCount = 0;

  const isAllowed = (status, url) => allowed.some((a) => a.status === status && (!a.url || url.includes(a.url)));

  async function newContext(options = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    // Generous: under the coverage build on a loaded 2-core machine a page takes seconds, not ms.
    context.setDefaultTimeout(30_000);
    contexts.push(context);
    // No request may leave for another host: fonts, CDNs, analytics.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      let origin;
      try {
        origin = new URL(url).origin;
      } catch {
        origin = url;
      }
      if (url.startsWith("data:") || url.startsWith("blob:") || allowedOrigins.has(origin)) return route.continue();
      problems.push(`request to another host: ${route.request().method()} ${url}`);
      return route.abort("blockedbyclient");
    });
    context.on("page", (page) => watch(page));
    context.on("response", (response) => {
      const status = response.status();
      if (status >= 400 && !isAllowed(status, response.url())) {
        problems.push(`HTTP ${status} for ${response.request().method()} ${response.url()}`);
      }
    });
    context.on("requestfailed", async (request) => {
      const failure = request.failure()?.errorText || "failed";
      if (failure.includes("ERR_BLOCKED_BY_CLIENT")) return; // reported above as another host
      // A response whose body was still loading when its page went away: its status was judged above.
      if (failure.includes("ERR_ABORTED") && (await request.response().catch(() => null))) return;
      // A page's icon, style or script the browser stopped fetching because the page was left (a form
      // submitted at once): cancelled, not failed. A real failure of one is a status >= 400 or another error.
      const subresource = ["image", "stylesheet", "script", "font", "other"].includes(request.resourceType()); // the icon is "other"
      if (failure.includes("ERR_ABORTED") && subresource && !request.isNavigationRequest()) return;
      problems.push(`request failed (${failure}, ${request.resourceType()}): ${request.method()} ${request.url()}`);
    });
    return context;
  }

  function watch(page) {
    page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      const text = message.text();
      // Chromium logs each response >= 400 as a console error; the response check above rules on those.
      if (/^Failed to load resource: the server responded with a status of \d+/.test(text)) return;
      problems.push(`console error on ${page.url()}: ${text}`);
    });
  }

  const context = await newContext();
  const page = await context.newPage();

  async function shot(name, target = page) {
    shotCount += 1;
    const file = join(shots, `${prefix}--${String(shotCount).padStart(2, "0")}-${slug(name)}.png`);
    await target.screenshot({ path: file, fullPage: true });
    return file;
  }

  const ctx = {
    /** Declares a response with `status` (whose URL contains `url`, when given) expected. */
    allowStatus(status, url) {
      allowed.push({ status, url });
    },
    /** The server with API keys, or a clear error when the run has none. */
    keyed() {
      if (!keyed) throw new Error("this journey needs the keyed server: set PM_BASE_KEYS, PM_READ_KEY, PM_WRITE_KEY");
      return keyed;
    },
    /** A new page in a new, watched context (another visitor; `options` as browser.newContext's). */
    async newPage(options) {
      return (await newContext(options)).newPage();
    },
    /** Signs `target` in on the keyed server with `key`, and waits for the browse page. */
    async signIn(target, key) {
      const server = ctx.keyed();
      await target.goto(`${server.base}/ui/login`);
      await target.fill("#key", key);
      await Promise.all([target.waitForURL(`${server.base}/ui/`), target.click("button[type=submit].primary")]);
    },
    /** GETs `path` from a server's REST API (from node, not the browser): `{ status, body }`. */
    async api(path, { key, server = base } = {}) {
      const headers = { accept: "application/json" };
      if (key) headers.authorization = `Bearer ${key}`;
      const response = await fetch(`${server}${path}`, { headers });
      const text = await response.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body };
    },
    screenshots: shots,
  };

  const started = Date.now();
  let error = null;
  let timer;
  try {
    await Promise.race([
      journey.run({ page, base, shot, expect, ctx }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${JOURNEY_TIMEOUT_MS} ms`)), JOURNEY_TIMEOUT_MS);
      }),
    ]);
    // Let requests in flight (a live search, an asset) finish and report.
    await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  let endShot = null;
  try {
    if (!page.isClosed()) endShot = await shot(error ? "failed" : "end");
  } catch (e) {
    problems.push(`no end screenshot: ${e.message}`);
  }
  for (const c of contexts) await c.close().catch(() => {});
  return { error, problems, endShot, ms: Date.now() - started };
}

async function main() {
  const journeys = await loadJourneys();
  if (journeys.length === 0) {
    console.error(`no journeys found in ${join(here, "journeys")}${only.length ? ` matching ${only.join(",")}` : ""}`);
    process.exit(1);
  }
  console.log(`screenshots: ${shots}`);
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  let failed = 0;
  try {
    for (const journey of journeys) {
      const result = await runJourney(browser, journey);
      const ok = !result.error && result.problems.length === 0;
      if (!ok) failed += 1;
      console.log(`${ok ? "ok  " : "FAIL"} ${journey.name} (${journey.file}, ${(result.ms / 1000).toFixed(1)} s)`);
      if (result.error) console.log(`     error: ${result.error.stack || result.error}`);
      for (const p of result.problems) console.log(`     ${p}`);
      if (!ok && result.endShot) console.log(`     screenshot: ${result.endShot}`);
    }
  } finally {
    await browser.close();
  }
  console.log(`\n${journeys.length} journeys: ${journeys.length - failed} passed, ${failed} failed`);
  console.log(`screenshots: ${shots}`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
