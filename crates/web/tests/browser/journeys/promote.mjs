// Promote to production and roll back: point `production` at another version through the
// confirmation page (which shows the move, the diff summary, the suggested bump and the
// protection), then roll it back (or remove it, when it was unset) — each step confirmed, each
// ending on the prompt page with a notice, and the label back where it was.
export const name = 'promote';

const LABEL = 'production';

/** The actions line of LABEL in the Labels card. */
function line(page) {
  return page.locator('ul.label-list li').filter({ has: page.locator('.chip', { hasText: new RegExp(`^${LABEL}$`) }) });
}

/** Where LABEL points now, or null. */
async function current(page) {
  if ((await line(page).count()) === 0) return null;
  return (await line(page).locator('a').first().textContent()).trim();
}

/** The notice of the prompt page after an action. */
async function notice(page) {
  await page.waitForURL(/done=/);
  return (await page.locator('#done-notice').textContent()).trim();
}

export async function run({ page, base, shot, expect }) {
  // The seeded support/triage: three versions, `production` on 1.1.0. The journey moves it and
  // rolls it back, so it ends where it started (journeys after this one read it unchanged).
  await page.goto(`${base}/ui/p/support/triage`);
  expect(await page.locator('#lf-label').count() === 1, 'the open-mode visitor may move labels');
  const before = await current(page);
  expect(before, 'production is set on the seeded prompt, so there is something to roll back to');
  const versions = await page.locator('#lf-version option').evaluateAll((os) => os.map((o) => o.value));
  const target = versions.filter((v) => v !== before).pop();

  // Promote: the confirmation says what moves, what changes and that the label is protected.
  await page.fill('#lf-label', LABEL);
  await page.selectOption('#lf-version', target);
  await page.locator('form.label-form').first().getByRole('button', { name: 'Review…' }).click();
  await page.waitForURL(/\/ui\/labels\//);
  const change = (await page.locator('.change-line').textContent()).replace(/\s+/g, ' ');
  expect(change.includes(before ? `from ${before} to ${target}` : `on ${target}`), `the move is described (${change})`);
  expect(await page.getByText('Prompts that follow this label').count() === 1, 'the followers are listed');
  if (before) {
    expect(await page.getByText('Suggested bump between them').count() === 1, 'the bump between the versions is shown');
  }
  await shot('promote-confirm');
  await page.getByRole('button', { name: new RegExp(`^Move ${LABEL}`) }).click();
  expect((await notice(page)).includes(`${LABEL} now points to ${target}`), 'the prompt page confirms the move');
  expect((await current(page)) === target, 'the Labels card shows the new target');

  if (before) {
    // Roll back: Cancel first changes nothing; then confirm, and the label is back.
    await line(page).getByRole('button', { name: `Roll back to ${before}` }).click();
    await page.waitForURL(/\/ui\/labels\//);
    await page.getByRole('link', { name: 'Cancel' }).click();
    expect((await current(page)) === target, 'cancel leaves the label where it is');
    await line(page).getByRole('button', { name: `Roll back to ${before}` }).click();
    await page.waitForURL(/\/ui\/labels\//);
    await shot('promote-confirm-rollback');
    await page.getByRole('button', { name: new RegExp(`^Roll back ${LABEL}`) }).click();
    expect((await notice(page)).includes(`rolled back to ${before}`), 'the rollback is confirmed');
  } else {
    // It was unset: remove it again.
    await line(page).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('button', { name: new RegExp(`^Remove ${LABEL}`) }).click();
    expect((await notice(page)).includes('removed'), 'the removal is confirmed');
  }
  expect((await current(page)) === before, `the label is back where it was (${before})`);
  await shot('promote-done');
}
