// Browse and search: the list, search as you type, a tag filter, paging, and the same search
// without JavaScript (a plain GET form).
export const name = "browse and search";

const rows = (page) => page.locator("#results table.prompts tbody tr");
const ids = (page) => page.locator("#results table.prompts a.id").allTextContents();

export async function run({ page, base, shot, expect, ctx }) {
  await page.goto(`${base}/ui/`);
  expect((await page.title()).startsWith("Prompts"), `title is ${await page.title()}`);
  expect((await rows(page).count()) === 50, `the first page shows 50 prompts, not ${await rows(page).count()}`);
  const triage = page.locator("tr", { has: page.locator('a.id[href="/ui/p/support/triage"]') });
  const row = await triage.innerText();
  for (const text of ["2.0.0", "3 versions", "production", "staging", "active", "Sorts support tickets by urgency"]) {
    expect(row.includes(text), `the support/triage row shows ${text}: ${row}`);
  }
  await shot("list");

  // Search as you type: the results are swapped in without a page load, and the URL follows.
  const before = page.url();
  await page.locator("#q").pressSequentially("support/", { delay: 20 });
  await page.waitForFunction(() => document.querySelectorAll("#results table.prompts tbody tr").length === 2);
  const found = await ids(page);
  expect(found.includes("support/triage") && found.includes("support/reply"), `search found ${found}`);
  expect(page.url().includes("q=support"), `the URL holds the search: ${page.url()} (was ${before})`);
  await shot("search");

  await page.locator("#q").fill("nothing-matches-this");
  await page.locator("#q").dispatchEvent("input");
  await page.locator("#results .empty").waitFor();
  expect((await page.locator("#results .empty").innerText()).includes("No prompt matches"), "an empty search says so");

  // A tag link filters by tag.
  await page.goto(`${base}/ui/p/marketing/tagline`);
  await Promise.all([page.waitForURL(/\/ui\/\?tag=marketing/), page.locator("a.tag", { hasText: "marketing" }).click()]);
  expect(JSON.stringify(await ids(page)) === JSON.stringify(["marketing/tagline"]), `tag filter: ${await ids(page)}`);

  // Paging: the second page holds the rest.
  await page.goto(`${base}/ui/`);
  const first = await ids(page);
  await Promise.all([page.waitForURL(/cursor=/), page.locator("a[rel=next]").click()]);
  const second = await ids(page);
  expect(second.length > 0 && second.every((id) => !first.includes(id)), `page 2 (${second}) repeats page 1`);
  expect(first.length + second.length === 60, `60 prompts in all, saw ${first.length} + ${second.length}`);

  // Without JavaScript the search form is a plain GET.
  const plain = await ctx.newPage({ javaScriptEnabled: false });
  await plain.goto(`${base}/ui/`);
  await plain.locator("#q").fill("support/t");
  await Promise.all([plain.waitForURL(/q=support%2Ft/), plain.locator("#q").press("Enter")]);
  const plainIds = await ids(plain);
  expect(JSON.stringify(plainIds) === JSON.stringify(["support/triage"]), `search without JS: ${plainIds}`);
  await shot("search-without-js", plain);
  await page.goto(`${base}/ui/?q=support/`);
}
