// Analytics and A/B tests: from a prompt's page to its analytics (six inline SVG charts and the
// totals by version, then by variant), to the experiment view of its `experiment` split (the
// variants side by side, the significance verdict), and promoting the winner through the
// confirmation, which ends the test.
export const name = 'analytics';

export async function run({ page, base, shot, expect }) {
  await page.goto(`${base}/ui/p/support/triage`);
  expect(await page.getByText('A/B test results').count() === 1, 'the prompt page links the split label\'s results');
  expect(await page.locator('.timeline .usage').count() >= 2, 'the timeline shows usage of the versions that served');
  await Promise.all([page.waitForURL(/\/ui\/analytics\//), page.getByRole('link', { name: 'Analytics', exact: true }).click()]);

  const charts = page.locator('svg.chart');
  expect((await charts.count()) === 6, `six charts (${await charts.count()})`);
  const lines = await page.locator('svg.chart path.chart-line').count();
  expect(lines >= 8, `a line per version in the renders, errors and time charts at least (${lines})`);
  const rows = await page.locator('table.totals tbody tr').count();
  expect(rows >= 2, `a totals row per version (${rows})`);
  const renders = await page.locator('table.totals tbody td[data-label="Renders"]').allTextContents();
  const total = renders.map((t) => parseInt(t, 10)).reduce((a, b) => a + b, 0);
  expect(total >= 300, `the 300 recorded renders are counted (${total})`);
  // Each chart point has a tooltip naming its series, time and value.
  const tooltip = await page.locator('svg.chart circle.chart-dot title').first().textContent();
  expect(/ · \d{4}-\d\d-\d\d \d\d:\d\d UTC · /.test(tooltip), `a point's tooltip (${tooltip})`);
  await shot('analytics-by-version');

  await page.selectOption('#an-by', 'variant');
  await Promise.all([page.waitForURL(/by=variant/), page.getByRole('button', { name: 'Show' }).click()]);
  expect(await page.getByText('experiment → 2.0.0').count() >= 1, 'grouped by variant, the split\'s variants are rows');

  await Promise.all([
    page.waitForURL(/\/ui\/experiment\//),
    page.locator('.notice-info a', { hasText: 'experiment' }).click(),
  ]);
  expect((await page.locator('h1').innerText()).includes('A/B test'), 'the experiment view');
  expect(await page.locator('table.variants tbody tr').count() === 2, 'two variants side by side');
  const verdict = await page.locator('.verdict-text').first().innerText();
  expect(verdict.includes('2.0.0 better than 1.1.0 at 95 %'), `the verdict names the winner (${verdict})`);
  await shot('experiment');

  // Promote the winner: the confirmation says it ends the test; confirm; the label is 2.0.0 alone.
  await Promise.all([
    page.waitForURL(/\/ui\/labels\//),
    page.getByRole('button', { name: 'Promote 2.0.0…' }).click(),
  ]);
  expect(await page.getByText('this ends the test').count() === 1, 'the confirmation says the test ends');
  await Promise.all([page.waitForURL(/done=/), page.getByRole('button', { name: /^Move experiment/ }).click()]);
  const line = page.locator('ul.label-list li').filter({ has: page.locator('.chip', { hasText: /^experiment$/ }) });
  expect((await line.locator('a').first().textContent()).trim() === '2.0.0', 'experiment points at 2.0.0');
  expect(await line.getByText('A/B test results').count() === 0, 'and is no longer split');
  await shot('experiment-promoted');
}
