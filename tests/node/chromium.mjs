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
