// A prompt's page: the template highlighted, variables, model config, the history timeline with
// the labels at each version, the label history; an older version; a chat prompt's cards.
export const name = "open a prompt";

export async function run({ page, base, shot, expect, ctx }) {
  await page.goto(`${base}/ui/`);
  await Promise.all([page.waitForURL(/\/ui\/p\/support\/triage$/), page.locator('a.id[href="/ui/p/support/triage"]').click()]);
  expect((await page.locator("h1").innerText()) === "support/triage", "the heading is the id");
  expect((await page.locator("#version-h").innerText()).includes("Version 2.0.0"), "the latest version is shown");

  // The template, highlighted: variables, delimiters, keywords, filters in their own spans.
  const code = page.locator('pre.code[aria-label="Template"]');
  const names = await code.locator(".j-name").allTextContents();
  expect(names.includes("ticket") && names.includes("team"), `highlighted variables: ${names}`);
  expect((await code.locator(".j-delim").count()) > 0, "delimiters are highlighted");
  expect((await code.locator(".j-kw").count()) > 0, "keywords ({% if %}) are highlighted");
  expect((await code.innerText()).includes("Classify this ticket as low, normal or urgent"), "the template text is shown");

  const side = await page.locator(".side-col").innerText();
  for (const text of ["ticket", "team", "general", "gpt-4o-mini", "support", "triage", "production", "staging"]) {
    expect(side.includes(text), `the side column shows ${text}`);
  }

  // The history timeline: newest first, changelogs, authors, labels at their versions.
  const items = page.locator("ol.timeline > li");
  expect((await items.count()) === 3, `3 versions in the timeline, not ${await items.count()}`);
  const newest = await items.nth(0).innerText();
  expect(newest.includes("2.0.0") && newest.includes("Ask for a reason") && newest.includes("staging"), newest);
  const middle = await items.nth(1).innerText();
  expect(middle.includes("1.1.0") && middle.includes("production"), middle);
  expect((await items.nth(2).innerText()).includes("ada"), "the first version's author is shown");
  expect((await page.locator("ol.timeline > li.current").count()) === 1, "the shown version is marked current");
  const labelHistory = await page.locator("#label-history tbody tr").count();
  expect(labelHistory >= 2, `the label history has the two label moves (${labelHistory})`);
  await shot("latest");

  // An older version from the timeline.
  await Promise.all([page.waitForURL(/v=1\.0\.0/), items.nth(2).locator("a.ver").click()]);
  expect((await page.locator("#version-h").innerText()).includes("Version 1.0.0"), "version 1.0.0 is shown");
  expect((await page.locator("#version-h a", { hasText: "show latest" }).count()) === 1, "a link back to the latest");

  // A chat prompt: message cards with roles, a placeholder, a tool call and its result.
  await page.goto(`${base}/ui/p/support/reply`);
  for (const selector of [".message.role-system", ".message.placeholder", ".message.role-user", ".message.role-assistant", ".message.role-tool"]) {
    expect((await page.locator(selector).count()) === 1, `a ${selector} card`);
  }
  const call = await page.locator(".message.role-assistant .tool-call").innerText();
  expect(call.includes("lookup_order") && call.includes("call_1"), `the tool call card: ${call}`);
  expect((await page.locator(".message.placeholder").innerText()).includes("history"), "the placeholder names its variable");
  await shot("chat");

  // An unknown prompt is a clear 404 page, not a crash.
  ctx.allowStatus(404, "/ui/p/no/such-prompt");
  const response = await page.goto(`${base}/ui/p/no/such-prompt`);
  expect(response.status() === 404, `unknown prompt: HTTP ${response.status()}`);
  expect((await page.locator("main").innerText()).includes("no/such-prompt"), "the 404 page names the prompt");
}
