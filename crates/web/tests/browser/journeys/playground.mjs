// The playground: open it from the prompt page, render as you type, see a missing variable's
// problem next to its field, switch output tabs, edit the JSON editor, and reopen the shareable URL.
export const name = 'playground';

export async function run({ page, base, shot, expect }) {
  // The server's seeded example: "Hello {{ name }}! Welcome to {{ product }}." (product has a default).
  await page.goto(`${base}/ui/p/examples/greeting`);
  await page.click('a:has-text("Playground")');
  await page.waitForSelector('#play-form');
  expect((await page.inputValue('textarea[name="var.product"]')) === 'prompt-manager', 'the default is filled in');
  expect(await page.isVisible('.req'), 'the required variable is marked');

  // Live render as the user types; the URL becomes the shareable one.
  await page.fill('textarea[name="var.name"]', 'Ada');
  await page.waitForFunction(() => document.querySelector('#out-text')?.textContent.includes('Hello Ada!'));
  expect((await page.textContent('#out-text')).trim() === 'Hello Ada! Welcome to prompt-manager.', 'text rendered');
  expect(page.url().includes('vars=') && decodeURIComponent(page.url()).includes('"name":"Ada"'), `URL holds the variables: ${page.url()}`);
  expect((await page.textContent('#share-url')).startsWith(base), 'the shareable link is absolute');
  await shot('playground-rendered');

  // Tabs: one output at a time, each framework's payload.
  for (const tab of ['OpenAI', 'Anthropic', 'Gemini', 'LangChain', 'LiteLLM']) {
    expect(await page.isVisible(`[role=tab]:has-text("${tab}")`), `${tab} tab`);
  }
  await page.click('[role=tab]:has-text("LangChain")');
  expect(await page.isVisible('#panel-langchain'), 'the LangChain panel shows');
  expect(!(await page.isVisible('#panel-text')), 'the text panel hides');
  await page.click('[role=tab]:has-text("Text")');

  // A missing required variable: said next to its field, not a broken page.
  await page.fill('textarea[name="var.name"]', '');
  await page.waitForSelector('.field-error[data-error-for="name"]:not([hidden])');
  expect((await page.textContent('.field-error[data-error-for="name"]')).includes('required'), 'inline problem');
  expect(await page.isVisible('.result .problem'), 'summary of problems');
  await shot('playground-missing');

  // The JSON editor fills the fields and renders.
  await page.click('summary:has-text("All variables as JSON")');
  await page.fill('#vars-json', '{"name": "Grace", "product": "the lab"}');
  await page.waitForFunction(() => document.querySelector('#out-text')?.textContent.includes('Grace'));
  expect((await page.inputValue('textarea[name="var.name"]')) === 'Grace', 'the JSON filled the field');
  await page.fill('#vars-json', '{"name": ');
  await page.waitForSelector('.field-error[data-error-for="_json"]:not([hidden])');

  // The shareable URL restores the form and the render.
  await page.fill('textarea[name="var.name"]', 'Linus');
  await page.waitForFunction(() => document.querySelector('#out-text')?.textContent.includes('Linus'));
  const shared = page.url();
  await page.goto('about:blank');
  await page.goto(shared);
  expect((await page.inputValue('textarea[name="var.name"]')) === 'Linus', 'the shared URL restores the field');
  expect((await page.textContent('#out-text')).includes('Hello Linus!'), 'the shared URL renders');
  await shot('playground-shared');
}
