// Promote and roll back: point a new label at a version through the confirmation page, move it,
// roll it back, remove it — each step confirmed, each ending on the prompt page with a notice.
export const name = 'promote';

const LABEL = 'journey-canary';

/** Submits the label form of the prompt page for `version` and lands on the confirmation. */
async function review(page, version) {
  await page.fill('#lf-label', LABEL);
  await page.selectOption('#lf-version', version);
  await page.locator('form.label-form').first().getByRole('button', { name: 'Review…' }).click();
  await page.waitForURL(/\/ui\/labels\//);
}

/** The actions of LABEL's line in the Labels card. */
function line(page) {
  return page.locator('ul.label-list li').filter({ has: page.locator('.chip', { hasText: LABEL }) });
}

export async function run({ page, base, shot, expect }) {
  // Prefer a prompt with several versions, so the label can move and roll back.
  await page.goto(`${base}/ui/`);
  let href = await page.locator('table.prompts a.id').first().getAttribute('href');
  for (const row of await page.locator('table.prompts tbody tr').all()) {
    const count = (await row.locator('td[data-label="Latest"] .muted').textContent().catch(() => '')) || '';
    if (!/\(1 version\)/.test(count)) {
      href = await row.locator('a.id').getAttribute('href');
      break;
    }
  }
  expect(href, 'the test store has a prompt');
  await page.goto(base + href);
  expect(await page.locator('#lf-label').count() === 1, 'the open-mode visitor may move labels');
  const versions = await page.locator('#lf-version option').evaluateAll((os) => os.map((o) => o.value));
  const first = versions[0];
  const last = versions[versions.length - 1];

  // A new label: the confirmation says so, nothing moves before it is applied.
  await review(page, first);
  expect(await page.getByText('New label').count() === 1, 'the confirmation calls it a new label');
  await shot('promote-confirm-new');
  await page.getByRole('button', { name: new RegExp(`^Move ${LABEL}`) }).click();
  await page.waitForURL(/done=/);
  expect(
    (await page.locator('#done-notice').textContent()).includes(`${LABEL} now points to ${first}`),
    'the prompt page confirms the move',
  );

  if (versions.length > 1) {
    // Move it on: the confirmation shows the diff summary and the suggested bump.
    await review(page, last);
    const change = (await page.locator('.change-line').textContent()).replace(/\s+/g, ' ');
    expect(change.includes(`from ${first} to ${last}`), `the move is described (${change})`);
    expect(await page.getByText('Suggested bump between them').count() === 1, 'the bump is shown');
    await shot('promote-confirm-move');
    await page.getByRole('button', { name: new RegExp(`^Move ${LABEL}`) }).click();
    await page.waitForURL(/done=/);
    // Roll it back.
    await line(page).getByRole('button', { name: `Roll back to ${first}` }).click();
    await page.waitForURL(/\/ui\/labels\//);
    await page.getByRole('button', { name: new RegExp(`^Roll back ${LABEL}`) }).click();
    await page.waitForURL(/done=/);
    expect(
      (await page.locator('#done-notice').textContent()).includes(`rolled back to ${first}`),
      'the rollback is confirmed',
    );
  }

  // Remove it; the confirmation's Cancel goes back without changing anything first.
  await line(page).getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('link', { name: 'Cancel' }).click();
  expect(await line(page).count() === 1, 'cancel leaves the label');
  await line(page).getByRole('button', { name: 'Remove' }).click();
  await shot('promote-confirm-remove');
  await page.getByRole('button', { name: new RegExp(`^Remove ${LABEL}`) }).click();
  await page.waitForURL(/done=/);
  expect(await line(page).count() === 0, 'the label is gone');
  await shot('promote-done');
}
