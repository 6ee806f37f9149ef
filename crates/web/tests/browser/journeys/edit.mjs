// Journey: create a prompt at /ui/new, edit it into a new version (preview with the diff and the
// suggested bump, a syntax error shown at its line, save), then paste a chat prompt file and
// rearrange its message cards in place before saving. Prompts get unique ids, so the journey
// runs against any store.
export const name = 'edit and create';

export async function run({ page, base, shot, expect, ctx }) {
  const suffix = Date.now().toString(36);
  const id = `journey/edit-${suffix}`;

  // Create from scratch.
  await page.goto(`${base}/ui/new`);
  await page.fill('#id', id);
  await page.fill('#template', 'Summarise {{ text }} in one line.');
  await page.fill('#tags', 'journey, edit');
  await page.fill('#input_schema', '- name: text\n  type: string\n');
  await shot('new-filled');
  await page.click('button[value=save]');
  await page.waitForURL(/\/ui\/p\/journey\/edit-.*saved=1\.0\.0/);
  expect((await page.textContent('#saved')).includes('Saved version 1.0.0'), 'the new prompt is confirmed');

  // Edit: preview shows the diff and the suggested bump (client-side preview).
  await page.click('a[href^="/ui/edit/"]');
  await page.fill('#template', 'Summarise {{ text }} in one short line.');
  await page.click('button[data-preview]');
  await page.waitForSelector('#preview .diff .dl.insert');
  const preview = await page.textContent('#preview');
  expect(preview.includes('minor'), 'a wording change suggests a minor bump');
  expect((await page.inputValue('#changelog')).startsWith('Changed wording'), 'the changelog draft is filled in');
  await shot('edit-preview');

  // A syntax error is shown at its line; saving it is refused (422 for the preview and the save).
  ctx.allowStatus(422, '/ui/edit/journey/');
  await page.fill('#template', 'Summarise {{ text }\nline two');
  await page.click('button[data-preview]');
  await page.waitForSelector('#preview .finding.error');
  expect((await page.textContent('#preview')).includes('line 1, column'), 'the error names its line');
  expect(await page.isVisible('#preview pre.code .line.error'), 'the error line is highlighted');
  await shot('edit-syntax-error');
  await page.click('button[value=save]');
  await page.waitForLoadState();
  expect((await page.textContent('#notice')).includes('does not parse'), 'a broken template is not saved');

  // Fix it and save: back on the prompt page at 1.1.0.
  await page.fill('#template', 'Summarise {{ text }} in one short line.');
  await page.click('button[value=save]');
  await page.waitForURL(/saved=1\.1\.0/);
  // The new version heads the history, with its changelog, above the first one.
  const timeline = await page.locator('ol.timeline li .ver').allTextContents();
  expect(timeline[0] === '1.1.0' && timeline.includes('1.0.0'), `the history lists 1.1.0 first (${timeline})`);
  await shot('edit-saved');

  // Paste a chat prompt file, then move and add cards in place before saving a new version.
  const chatId = `journey/chat-${suffix}`;
  await page.goto(`${base}/ui/new?mode=file`);
  await page.fill('#file', `id: ${chatId}\ntemplate:\n  - role: system\n    content: You are {{ persona }}.\n  - placeholder: history\n    optional: true\n  - role: user\n    content: "{{ question }}"\n`);
  await page.click('button[value=save]');
  await page.waitForURL(/saved=1\.0\.0/);
  await page.goto(`${base}/ui/edit/${chatId}`);
  const cards = page.locator('[data-card]');
  expect((await cards.count()) === 3, 'three cards');
  await cards.nth(2).locator('button[data-move="-1"]').click();
  expect((await cards.nth(1).locator('textarea').inputValue()) === '{{ question }}', 'the user message moved up in place');
  await page.click('button[data-add="message"]');
  expect((await cards.count()) === 4, 'a card was added in place');
  await cards.nth(3).locator('textarea').fill('Thanks, {{ persona }}.');
  await cards.nth(3).locator('select').selectOption('assistant');
  await shot('chat-cards');
  await page.fill('#changelog', 'Reordered and added a reply');
  await page.click('button[value=save]');
  await page.waitForURL(/saved=2\.0\.0|saved=1\.1\.0/);
  const html = await page.content();
  expect(html.includes('Thanks,'), 'the added message is saved');
  await shot('chat-saved');
}
