// A POST without the session's CSRF token (as another site's form would send) is refused with
// 403 and changes nothing: signed in with a write key on the keyed server, neither sign-out nor
// any write page accepts it.
export const name = "CSRF-less POST refused";

const WRITES = ["/ui/labels/support/triage", "/ui/edit/support/triage", "/ui/status/support/triage", "/ui/new"];

export async function run({ page, shot, expect, ctx }) {
  const server = ctx.keyed();
  await ctx.signIn(page, server.writeKey);
  const who = await page.locator(".who").innerText();
  expect(who.includes("writer") && who.includes("write"), `signed in as the writer: ${who}`);
  const id = encodeURIComponent("support/triage");
  const before = JSON.stringify((await ctx.api(`/v1/prompts/${id}/summary`, { key: server.readKey, server: server.base })).body);

  // Sign-out without the token: refused, still signed in.
  ctx.allowStatus(403, "/ui/logout");
  const logout = await page.evaluate(async () => {
    const response = await fetch("/ui/logout", { method: "POST", body: new URLSearchParams({}) });
    await response.text();
    return response.status;
  });
  expect(logout === 403, `sign-out without a token got HTTP ${logout}`);
  const stale = await page.evaluate(
    async () => {
      const response = await fetch("/ui/logout", { method: "POST", body: new URLSearchParams({ _csrf: "0".repeat(64) }) });
      await response.text();
      return response.status;
    },
  );
  expect(stale === 403, `sign-out with a wrong token got HTTP ${stale}`);
  await page.reload();
  expect((await page.locator(".who").innerText()).includes("writer"), "still signed in after the refused sign-out");

  // Writes without the token, as a real form submission (a full page): the error page says why.
  for (const path of WRITES) {
    ctx.allowStatus(403, path);
    const status = await page.evaluate(
      async (path) => {
        const body = new URLSearchParams({ action: "save", label: "production", version: "1.0.0" });
        const response = await fetch(path, { method: "POST", body });
        await response.text();
        return response.status;
      },
      path,
    );
    expect(status === 403, `a POST to ${path} without a CSRF token got HTTP ${status}, not 403`);
  }
  const [refusal] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/ui/logout") && r.request().method() === "POST"),
    page.evaluate(() => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/ui/logout";
      document.body.append(form);
      form.submit();
    }),
  ]);
  expect(refusal.status() === 403, `the form without a token got HTTP ${refusal.status()}`);
  await page.waitForLoadState();
  expect((await page.locator("main").innerText()).includes("security token"), "the refusal page explains the missing token");
  await shot("refused");
  const after = JSON.stringify((await ctx.api(`/v1/prompts/${id}/summary`, { key: server.readKey, server: server.base })).body);
  expect(before === after, `a CSRF-less POST changed the prompt:\n${before}\n${after}`);
}
