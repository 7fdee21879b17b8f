// chromium.mjs - headless Chromium for the browser tests and benchmarks: Debian's build (never a
// download), CPU only, no background traffic.
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

// A launched browser (close it when done). webgpu: also --enable-unsafe-webgpu, which gives
// pages on http://127.0.0.1 a WebGPU adapter (SwiftShader, a software Vulkan, here).
export const launchChromium = ({ webgpu = false } = {}) =>
  chromium.launch({ executablePath: CHROMIUM, args: webgpu ? [...CHROMIUM_FLAGS, '--enable-unsafe-webgpu'] : CHROMIUM_FLAGS });

// A new page of browser (newPage's options), its uncaught errors' messages collected in errors
// (a test asserts it stays empty), at url once loaded: { page, errors }.
export async function newPageAt(browser, url, options) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, errors };
}
