// A read key on a server with API keys: sign in, find no edit controls anywhere, and a forged
// POST to every write page — with the session's real CSRF token — is refused with 403 and
// changes nothing (checked through the REST API with the read key).
export const name = "read key: no edit controls, forged POST refused";

/** The write pages of the UI (WEB.md's URL map) and a plausible form for each. */
const WRITES = [
  ["/ui/edit/support/triage", { action: "save", template: "Hijacked {{ ticket }}", changelog: "forged", bump: "major" }],
  ["/ui/labels/support/triage", { action: "set", label: "staging", version: "1.0.0", confirm: "yes" }],
  ["/ui/status/support/triage", { status: "archived", confirm: "yes" }],
  ["/ui/new", { id: "forged/prompt", format: "text", template: "Hello", changelog: "forged" }],
];

/** What a write would change, as the REST API reports it. */
async function state(ctx, key, server) {
  const id = encodeURIComponent("support/triage");
  const summary = await ctx.api(`/v1/prompts/${id}/summary`, { key, server });
  const versions = await ctx.api(`/v1/prompts/${id}/versions`, { key, server });
  const forged = await ctx.api(`/v1/prompts/${encodeURIComponent("forged/prompt")}/summary`, { key, server });
  return JSON.stringify({ summary: summary.body, versions: versions.body, forged: forged.status });
}

export async function run({ page, shot, expect, ctx }) {
  const server = ctx.keyed();

  // Not signed in: every page sends the visitor to sign in.
  await page.goto(`${server.base}/ui/p/support/triage`);
  expect(page.url().startsWith(`${server.base}/ui/login?next=`), `redirected to sign in: ${page.url()}`);
  await shot("sign-in");
  ctx.allowStatus(401, "/ui/login");
  await page.fill("#key", "pm_not_a_real_key");
  await page.click("button[type=submit].primary");
  await page.locator("#login-error").waitFor();

  await page.fill("#key", server.readKey);
  await Promise.all([page.waitForURL(`${server.base}/ui/p/support/triage`), page.click("button[type=submit].primary")]);
  const who = await page.locator(".who").innerText();
  expect(who.includes("reader") && who.includes("read"), `the header names the key and scope: ${who}`);

  // No edit controls: not on the prompt page, not on browse.
  const html = await page.content();
  expect(!/>\s*Edit\b/.test(html), "no Edit link for a read key");
  expect((await page.locator('a[href^="/ui/new"]').count()) === 0, "no New prompt link for a read key");
  for (const action of ["/ui/labels/", "/ui/status/", "/ui/edit/", "/ui/new"]) {
    expect((await page.locator(`form[action^="${action}"]`).count()) === 0, `no form posting to ${action}`);
  }
  await shot("prompt-as-reader");
  await page.goto(`${server.base}/ui/`);
  expect((await page.locator('a[href^="/ui/new"]').count()) === 0, "no New prompt link on browse");
  expect((await page.locator("table.prompts tbody tr").count()) > 0, "the reader sees the prompts");

  // Forged POSTs with the right CSRF token: refused by the server, nothing changed.
  const before = await state(ctx, server.readKey, server.base);
  for (const [path, fields] of WRITES) {
    ctx.allowStatus(403, path);
    const status = await page.evaluate(
      async ({ path, fields }) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const body = new URLSearchParams({ _csrf: token, ...fields });
        const response = await fetch(path, { method: "POST", body });
        await response.text();
        return response.status;
      },
      { path, fields },
    );
    expect(status === 403, `a forged POST to ${path} with a read key got HTTP ${status}, not 403`);
  }
  const after = await state(ctx, server.readKey, server.base);
  expect(before === after, `a forged POST changed the store:\nbefore ${before}\nafter  ${after}`);
  expect(JSON.parse(after).forged === 404, "no prompt was created");
  await page.goto(`${server.base}/ui/p/support/triage`);
}
