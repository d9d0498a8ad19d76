// The page's functions run in the browser: they are type-checked against the DOM.
/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { CORE_ERROR_CODES } from '@vlab/core';
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../src/database/events.js';
import { createHttpApi } from '../src/http/http-api.js';
import {
  type MemoryLabManager,
  pollUntil,
  startMemoryLabManager,
  untilState,
} from './memory-lab-manager.js';

// The operator status page in a real browser: Debian's chromium, driven by playwright-core (no
// browser download). A missing chromium fails the test, naming the package; it never skips.

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../test-artifacts/status-page.png', import.meta.url));
/** How long the page may take to show what the manager already knows. */
const SHOWN_MS = 30_000;

let fixture: MemoryLabManager;
let api: FastifyInstance;
let base = '';
let browser: Browser;
const token: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's "chromium" package (apt-get install --no-install-recommends chromium; scripts/test.sh installs it)`,
    );
  }
  fixture = await startMemoryLabManager('status-page');
  const m = fixture.manager;
  token.alice = (await m.apiTokens.issue('alice', 'status-page')).token.reveal();
  token.bob = (await m.apiTokens.issue('bob', 'status-page')).token.reveal();
  api = await createHttpApi(m);
  base = await api.listen({ host: '127.0.0.1', port: 0 });
  // As root, chromium runs only without its sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await fixture?.cleanup();
});

/** A fresh browser context (its own sessionStorage) whose page fails the test on script errors. */
async function openPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    // Tokens travel in the Authorization header only, never in a URL a log could keep.
    for (const t of Object.values(token)) {
      if (request.url().includes(t)) problems.push(`a URL holds a token: ${request.url()}`);
    }
  });
  await page.goto(`${base}/`);
  return { context, page, problems };
}

async function signIn(page: Page, who: keyof typeof token): Promise<void> {
  await page.getByLabel('API token').fill(token[who]);
  await page.getByLabel('API token').press('Enter');
  await page.locator('#dashboard').waitFor({ state: 'visible', timeout: SHOWN_MS });
  await page.locator('#computers tr').first().waitFor({ timeout: SHOWN_MS });
}

/** The state badge of a computer's row, once it reads `state`. */
function computerState(page: Page, name: string, state: string) {
  return page
    .locator(`#computers tr[data-computer="${name}"] td:nth-child(2) .badge`, {
      hasText: new RegExp(`^${state}$`),
    })
    .waitFor({ timeout: SHOWN_MS });
}

function reservationState(page: Page, id: string, state: string) {
  return page
    .locator(`#reservations tr[data-reservation="${id}"] td:nth-child(5) .badge`, {
      hasText: new RegExp(`^${state}$`),
    })
    .waitFor({ timeout: SHOWN_MS });
}

/** The progress bar of a reservation: its value, max and text. */
async function bar(page: Page, id: string) {
  const item = page.locator(`#operations li[data-operation="${id}"]`);
  return {
    value: await item.locator('progress').evaluate((p: HTMLProgressElement) => p.value),
    max: await item.locator('progress').evaluate((p: HTMLProgressElement) => p.max),
    hasValue: await item.locator('progress').evaluate((p) => p.hasAttribute('value')),
    phase: await item.locator('.phase').textContent(),
    figures: await item.locator('.figures').textContent(),
  };
}

describe('the status page', () => {
  it('is served at / with a strict Content-Security-Policy, public, and out of the OpenAPI document', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    // No inline script: the only script is the page's own module.
    expect(html.match(/<script\b[^>]*>[^<]*/g)).toEqual([
      '<script type="module" src="/status-page/status-page.js">',
    ]);
    for (const [path, type] of [
      ['/status-page/status-page.js', 'text/javascript; charset=utf-8'],
      ['/status-page/status-page.css', 'text/css; charset=utf-8'],
      ['/status-page/hints.json', 'application/json; charset=utf-8'],
    ] as const) {
      const asset = await fetch(`${base}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get('content-type'), path).toBe(type);
    }
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths).filter((p) => !p.startsWith('/api/v1/'))).toEqual([
      '/metrics',
    ]);
  });

  it("lets an admin reserve a computer with the keyboard, watch its load's progress until it is reserved, and use the admin actions", async () => {
    const m = fixture.manager;
    // A load that fails before the page opens (c3's BMC password is wrong): the page lists it
    // among the last errors, with the hint of its code.
    const broken = await m.reservations.request({
      requestId: 'status-page-broken',
      image: 'base',
      minutes: 30,
      logins: ['bob'],
      computer: 'c3',
    });
    await untilState(m, broken.id, ['failed']);

    // c1 stops answering: its load runs power-off and deploy, then waits in boot until resumed.
    const resume = fixture.lab.machine('c1').stall();
    const { context, page, problems } = await openPage();
    try {
      await signIn(page, 'alice');
      await page.locator('#admin').waitFor({ state: 'visible' });
      const error = page.locator('#errors li', { hasText: 'VLAB_ERR_CONFIG_INVALID' }).first();
      await error.waitFor({ timeout: SHOWN_MS });
      expect(await error.textContent()).toContain(CORE_ERROR_CODES.VLAB_ERR_CONFIG_INVALID.hint);

      // Keyboard only: Tab to the form, choose c1, users and a duration, Enter submits.
      for (let tabs = 0; ; tabs += 1) {
        if (await page.locator('#reserve-image').evaluate((e) => e === document.activeElement))
          break;
        if (tabs > 10) throw new Error('Tab never reached the reserve form');
        await page.keyboard.press('Tab');
      }
      // Focus is visible.
      expect(
        await page
          .locator('#reserve-image')
          .evaluate((e) => getComputedStyle(e).outlineStyle + getComputedStyle(e).outlineWidth),
      ).toBe('solid3px');
      expect(await page.locator('#reserve-image').inputValue()).toBe('base');
      await page.keyboard.press('Tab');
      await page.keyboard.press('ArrowDown');
      expect(await page.locator('#reserve-computer').inputValue()).toBe('c1');
      await page.keyboard.press('Tab');
      await page.keyboard.type('alice, bob');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('45');
      await page.keyboard.press('Enter');

      const requested = await page
        .locator('#reserve-result', { hasText: /requested/ })
        .textContent({ timeout: SHOWN_MS });
      const made = (await m.reservations.list()).find((r) => r.id !== broken.id);
      if (made === undefined) throw new Error('the page made no reservation');
      expect(requested).toContain(made.id.slice(0, 8));
      expect(made.logins).toEqual(['alice', 'bob']);
      expect(made.endsAt.getTime() - made.startsAt.getTime()).toBe(45 * 60_000);

      // The known point: the load waits in boot, after power-off and deploy reported progress.
      const samples: LabEvent[] = await pollUntil(
        async () => {
          const events = await m.events({ reservationId: made.id, progress: true, limit: 1000 });
          const progress = events.filter((e) => e.kind === 'progress');
          const deployed = progress.some(
            (e) => e.progress?.unit === 'steps' && e.progress.done === 2,
          );
          return deployed && progress.length >= 3 ? progress : undefined;
        },
        async () =>
          JSON.stringify(await m.events({ reservationId: made.id, progress: true, limit: 1000 })),
      );
      expect((await m.reservations.get(made.id))?.computer).toBe('c1');
      const latest = samples.at(-1);
      if (latest?.progress === null || latest === undefined) throw new Error('no progress sample');
      const held = { value: latest.progress.done, max: latest.progress.total };
      await page.waitForFunction(
        ({ id, value, max }) => {
          const p = document.querySelector(`#operations li[data-operation="${id}"] progress`);
          return p instanceof HTMLProgressElement && p.value === value && p.max === max;
        },
        { id: made.id, ...held },
        { timeout: SHOWN_MS },
      );
      const atGate = await bar(page, made.id);
      expect(atGate).toMatchObject({ hasValue: true, phase: latest.step });
      expect(atGate.figures).toContain(
        latest.progress.unit === 'steps'
          ? `${latest.progress.done} of ${latest.progress.total} steps`
          : '100%',
      );
      await computerState(page, 'c1', 'loading');
      await reservationState(page, made.id, 'loading');
      // Every value the bar takes from now on.
      await page.evaluate((id) => {
        const p = document.querySelector(`#operations li[data-operation="${id}"] progress`);
        const seen: string[] = [];
        (window as unknown as { barValues: string[] }).barValues = seen;
        if (p === null) return;
        new MutationObserver(() =>
          seen.push(`${p.getAttribute('value')}/${p.getAttribute('max')}`),
        ).observe(p, { attributes: true, attributeFilter: ['value', 'max'] });
      }, made.id);

      resume();
      await computerState(page, 'c1', 'reserved');
      await reservationState(page, made.id, 'ready');
      await page
        .locator(`#operations li[data-operation="${made.id}"] .phase`, { hasText: /^ready$/ })
        .waitFor({ timeout: SHOWN_MS });
      const done = await bar(page, made.id);
      expect(done).toMatchObject({ value: 1, max: 1, figures: 'done' });
      expect([done.value, done.max]).not.toEqual([held.value, held.max]);
      const moved = await page.evaluate(
        () => (window as unknown as { barValues: string[] }).barValues,
      );
      expect(moved.filter((v) => v !== `${held.value}/${held.max}`).length).toBeGreaterThan(0);
      expect(await page.locator('#announcer').textContent()).toContain('ready');
      expect(await page.locator(`#computers tr[data-computer="c1"]`).textContent()).toContain(
        'base revision 1',
      );

      // Accessibility: no violation, colour contrast included.
      const axe = await new AxeBuilder({ page }).analyze();
      expect(
        axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
      ).toEqual([]);

      await mkdir(fileURLToPath(new URL('../test-artifacts/', import.meta.url)), {
        recursive: true,
      });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Admin actions: c2 into maintenance and out again.
      await page.locator('#admin-computer').selectOption('c2');
      await page.locator('#admin-action').selectOption('maintenance-on');
      await page.getByLabel('Reason').fill('new disk');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.locator('#admin-result', { hasText: 'c2 is maintenance.' }).waitFor();
      await computerState(page, 'c2', 'maintenance');
      expect((await m.computers.get('c2'))?.maintenanceReason).toBe('new disk');
      await page.locator('#admin-action').selectOption('maintenance-off');
      expect(await page.getByLabel('Reason').isVisible()).toBe(false);
      await page.getByRole('button', { name: 'Apply' }).click();
      await computerState(page, 'c2', 'available');
      expect(problems).toEqual([]);
    } finally {
      resume();
      await context.close();
    }
  });

  it('shows a user their own reservations without admin actions, keeps the token for the tab, and signs out', async () => {
    const { context, page, problems } = await openPage();
    try {
      await signIn(page, 'bob');
      expect(await page.locator('#who').textContent()).toContain('bob (user)');
      expect(await page.locator('#admin').isVisible()).toBe(false);
      expect(await page.locator('#reserve-users').isVisible()).toBe(false);
      // Reloading the tab keeps the session; the token is in sessionStorage only.
      await page.reload();
      await page.locator('#dashboard').waitFor({ state: 'visible', timeout: SHOWN_MS });
      expect(await page.evaluate(() => localStorage.length)).toBe(0);

      await page.locator('#reserve-computer').selectOption('c2');
      await page.getByRole('button', { name: 'Reserve' }).click();
      const item = page.locator('#operations li[data-operation]').first();
      await item.waitFor({ timeout: SHOWN_MS });
      const id = await item.getAttribute('data-operation');
      if (id === null) throw new Error('no progress bar');
      await reservationState(page, id, 'ready');
      await computerState(page, 'c2', 'reserved');
      await page
        .locator(`#operations li[data-operation="${id}"] .phase`, { hasText: /^ready$/ })
        .waitFor({ timeout: SHOWN_MS });
      // bob sees the reservations he is one of the users of, and only those.
      const shown = await page
        .locator('#reservations tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-reservation')));
      const bobs = (await fixture.manager.reservations.list())
        .filter((r) => r.logins.includes('bob'))
        .map((r) => r.id);
      expect(shown.sort()).toEqual(bobs.sort());

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.locator('#sign-in').waitFor({ state: 'visible' });
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      expect(await page.locator('#computers tr').count()).toBe(0);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
