// webgpu_node.mjs - test helper: WebGPU in Node through the `webgpu` devDependency (Dawn's Node
// bindings; on this machine Mesa's lavapipe, a Vulkan adapter with shader-f16 and subgroups).

// Installs the package's WebGPU globals and navigator.gpu, and resolves to an adapter. Where the
// package or an adapter is missing: skips test context t (a failure under CI=true, where
// scripts/setup.sh installs both) and resolves to null.
export async function nodeWebGpuAdapter(t) {
  const missing = (why) => {
    if (process.env.CI === 'true') throw new Error(`${why} (CI=true: scripts/setup.sh installs it)`);
    t.skip(why);
    return null;
  };
  let webgpu;
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    return missing(`the webgpu package is not installed (npm ci): ${e.message.split('\n')[0]}`);
  }
  Object.assign(globalThis, webgpu.globals);
  // Node 21 and later have a global navigator, a getter without gpu: define over it
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: webgpu.create([]) }, configurable: true, writable: true });
  return (await globalThis.navigator.gpu.requestAdapter())
    ?? missing('no Vulkan adapter for Dawn (Debian 12: mesa-vulkan-drivers from bookworm-backports)');
}
