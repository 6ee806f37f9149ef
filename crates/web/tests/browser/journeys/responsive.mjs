// Narrow screens and dark mode: the browse and prompt pages at 375 px wide (no sideways
// scrolling) and in dark mode (dark background, readable text), with screenshots of each.
export const name = "375 px wide and dark mode";

const overflow = (page) =>
  page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));

const colors = (page) =>
  page.evaluate(() => {
    const s = getComputedStyle(document.body);
    return { bg: s.backgroundColor, fg: s.color };
  });

/** The relative luminance of an `rgb(r, g, b)` colour. */
function luminance(rgb) {
  const [r, g, b] = rgb.match(/\d+(\.\d+)?/g).slice(0, 3).map((c) => {
    const v = Number(c) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export async function run({ page, base, shot, expect, ctx }) {
  const pages = [["browse", "/ui/"], ["prompt", "/ui/p/support/triage"], ["chat", "/ui/p/support/reply"]];

  const narrow = await ctx.newPage({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  for (const [label, path] of pages) {
    await narrow.goto(`${base}${path}`);
    const { scroll, client } = await overflow(narrow);
    expect(scroll <= client + 1, `${label} at 375 px scrolls sideways (${scroll} px wide in ${client})`);
    await shot(`${label}-375px`, narrow);
  }

  const dark = await ctx.newPage({ colorScheme: "dark" });
  for (const [label, path] of pages) {
    await dark.goto(`${base}${path}`);
    const { bg, fg } = await colors(dark);
    const [lb, lf] = [luminance(bg), luminance(fg)];
    expect(lb < 0.05, `${label} in dark mode has a dark background (${bg})`);
    expect((lf + 0.05) / (lb + 0.05) >= 7, `${label} in dark mode has readable text (${fg} on ${bg})`);
    await shot(`${label}-dark`, dark);
  }

  const darkNarrow = await ctx.newPage({ colorScheme: "dark", viewport: { width: 375, height: 740 }, isMobile: true });
  await darkNarrow.goto(`${base}/ui/p/support/triage`);
  await shot("prompt-dark-375px", darkNarrow);
  await page.goto(`${base}/ui/`);
}
