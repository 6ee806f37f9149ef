// Keyboard navigation on the browse page: Tab reaches the skip link, the search box and the
// first prompt's link, each with a visible focus ring; Enter opens the prompt.
export const name = "keyboard navigation";

/** Presses Tab until `test` holds for the focused element (at most `max` times); returns its description. */
async function tabTo(page, test, max, what, expect) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    const hit = await page.evaluate(test);
    if (hit) return;
  }
  const focused = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  expect(false, `${max} presses of Tab did not reach ${what} (focus is on ${focused})`);
}

const focusRing = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return { visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2, html: el.outerHTML.slice(0, 80) };
  });

export async function run({ page, base, shot, expect }) {
  await page.goto(`${base}/ui/`);

  await tabTo(page, () => document.activeElement?.classList.contains("skip"), 1, "the skip link", expect);
  const skip = await page.locator("a.skip").boundingBox();
  expect(skip && skip.x >= 0, "the focused skip link is on screen");

  await tabTo(page, () => document.activeElement?.id === "q", 10, "the search box", expect);
  const search = await focusRing(page);
  expect(search.visible, `the focused search box shows a focus ring (${search.html})`);
  await shot("search-focused");

  await tabTo(page, () => document.activeElement?.matches("table.prompts tbody tr:first-child a.id"), 10, "the first prompt's link", expect);
  const link = await focusRing(page);
  expect(link.visible, `the focused prompt link shows a focus ring (${link.html})`);
  const first = await page.evaluate(() => document.activeElement.textContent);
  await shot("link-focused");

  await Promise.all([page.waitForURL(`${base}/ui/p/${first}`), page.keyboard.press("Enter")]);
  expect((await page.locator("h1").innerText()) === first, `Enter opened ${first}`);
}
