// Webhooks, as an admin (the open server): the nav leads to the page, the subscription is listed
// with its deliveries (the server's dispatcher tried each seeded change against a port nobody
// listens on, once), a failed one is sent again with its button, and the page says so.
export const name = 'webhooks';

export async function run({ page, base, shot, expect }) {
  await page.goto(`${base}/ui/`);
  await Promise.all([page.waitForURL(/\/ui\/webhooks/), page.getByRole('link', { name: 'Webhooks', exact: true }).click()]);
  expect((await page.locator('h1').innerText()).trim() === 'Webhooks', 'the webhooks page');
  const subs = page.locator('table.webhooks tbody tr');
  expect((await subs.count()) === 1, `one subscription (${await subs.count()})`);
  expect((await subs.first().innerText()).includes('http://127.0.0.1:9/seeded'), 'its URL is shown');
  expect((await page.content()).includes('whsec_') === false, 'never its secret');

  // The dispatcher works in the background: wait for a failed delivery to show.
  let failed = 0;
  for (let i = 0; i < 40 && failed === 0; i++) {
    await page.reload();
    failed = await page.locator('tr.delivery-failed').count();
    if (failed === 0) await page.waitForTimeout(250);
  }
  expect(failed >= 1, 'a delivery that failed is listed');
  const row = page.locator('tr.delivery-failed').first();
  expect((await row.innerText()).includes('cannot reach'), 'with its last error');
  await shot('webhooks');

  const id = (await row.locator('td[data-label="Delivery"] code').innerText()).trim();
  await Promise.all([page.waitForURL(/redelivered=/), row.getByRole('button', { name: 'Redeliver' }).click()]);
  const notice = await page.locator('#redelivered').innerText();
  expect(notice.includes(id) && notice.includes('queued again'), `the page says it was queued (${notice})`);
  await shot('webhooks-redelivered');
}
