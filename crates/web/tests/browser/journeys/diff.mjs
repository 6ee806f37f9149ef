// The diff page: from a prompt with several versions, open its diff, read the side-by-side lines
// and the suggested bump, pick other versions with the form, and see the narrow layout stack.
export const name = 'diff';

/** The first prompt of the browse page with more than one version, or null. */
async function promptWithVersions(page, base) {
  await page.goto(`${base}/ui/`);
  const rows = await page.locator('table.prompts tbody tr').all();
  for (const row of rows) {
    const count = await row.locator('td[data-label="Latest"] .muted').textContent().catch(() => '');
    if (!/\(1 version\)/.test(count || '')) {
      return row.locator('a.id').getAttribute('href');
    }
  }
  return null;
}

export async function run({ page, base, shot, expect, ctx }) {
  const href = await promptWithVersions(page, base);
  expect(href, 'the test store has a prompt with more than one version');
  await page.goto(base + href);
  await page.getByRole('link', { name: 'Diff', exact: true }).click();
  await page.waitForURL(/\/ui\/diff\//);
  const heading = await page.locator('h1').textContent();
  expect(heading.startsWith('Diff '), `the diff page has a heading (${heading})`);
  const from = await page.locator('#from').inputValue();
  const to = await page.locator('#to').inputValue();
  expect(from !== to, `the default compares two versions (${from} → ${to})`);
  const same = await page.getByText('have the same content').count();
  if (!same) {
    expect(await page.getByText('Suggested bump:').count() === 1, 'the suggested bump is shown');
    const changed = await page.locator('.sbs-cell.del, .sbs-cell.ins, .entry, table.changes').count();
    expect(changed > 0, 'changed lines, messages or fields are shown');
  }
  await shot('diff-wide');

  // Swap the sides with the form: the page reads backwards and says so.
  await page.selectOption('#from', to);
  await page.selectOption('#to', from);
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForURL(/from=/);
  expect(await page.getByText('reads backwards').count() === 1, 'a backwards diff says so');

  // Narrow: the two sides stack, unchanged lines show once.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(`${base}/ui/diff/${href.replace('/ui/p/', '')}?from=${from}&to=${to}`);
  const row = page.locator('.sbs-row').first();
  if (await row.count()) {
    const columns = await row.evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
    expect(columns === 1, `at 375 px a row has one column (${columns})`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  expect(!overflow, 'the diff page does not scroll sideways at 375 px');
  await shot('diff-narrow');
  await page.setViewportSize({ width: 1280, height: 900 });

  // An unknown version is a clear error page.
  ctx.allowStatus(404, 'from=99.0.0');
  const response = await page.goto(`${base}/ui/diff/${href.replace('/ui/p/', '')}?from=99.0.0`);
  expect(response.status() === 404, `an unknown version is a 404 (${response.status()})`);
  expect(await page.getByText('No such version').count() > 0, 'the error page names the problem');
}
