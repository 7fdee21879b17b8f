// convert_identity.test.mjs - `kite convert` writes the model's identity (general.name,
// basename, finetune, version, size_label, license, tags, languages, base_model.*, dataset.*)
// as llama.cpp's converter does: each folder's keys are compared with what llama.cpp's own
// gguf-py code (Metadata.load + prepare_metadata, run by llama_metadata.py) writes for the same
// folder and tensors. That needs python3 with numpy and yaml and llama.cpp's gguf-py
// (KITE_LLAMA_CPP, or build/llama.cpp-src: scripts/setup.sh installs both); the live cases
// are skipped without them, and fail in CI (CI=true). The size labels below were also printed by llama_metadata.py
// (pinned llama.cpp), so they are checked even without python.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';
import { readGguf } from './gguf_read.mjs';
import { writeHf } from './hf_checkpoint.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'kite-identity-'));
if (!process.env.KITE_KEEP_TMP) process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// gguf-py of llama.cpp's pinned source, and a python3 that has numpy and yaml.
// (scripts/setup.sh clones it into build/llama.cpp-src; KITE_LLAMA_CPP names another clone)
const GGUF_PY = [process.env.KITE_LLAMA_CPP, join(repoRoot, 'build/llama.cpp-src')]
  .filter(Boolean)
  .map((d) => join(d, 'gguf-py'))
  .find((d) => existsSync(join(d, 'gguf/metadata.py')));
const PYTHON = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import numpy, yaml'], { stdio: 'ignore' }).status === 0,
);
const noRef = !GGUF_PY || !PYTHON ? 'needs python3 with numpy + yaml and llama.cpp\'s gguf-py (scripts/setup.sh)' : false;
// In CI the reference is part of the set-up: its absence fails instead of skipping 15 cases.
if (noRef && process.env.CI === 'true') throw new Error(`convert_identity: ${noRef}`);

// llama.cpp's identity keys for each job [folder, [[tensor name, ne]...], model name or null], by one
// python run (importing gguf-py takes seconds).
function llamaKeys(jobs) {
  const file = join(tmp, 'jobs.json');
  writeFileSync(file, JSON.stringify(jobs));
  const r = spawnSync(PYTHON, [join(repoRoot, 'tests/node/llama_metadata.py'), file], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: GGUF_PY },
    maxBuffer: 1 << 24,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const NOT_IDENTITY = /^general\.(architecture|type|file_type|quantization_version|sampling\..*)$/;
const identity = (file) =>
  Object.fromEntries([...readGguf(readFileSync(file)).kv].filter(([k]) => k.startsWith('general.') && !NOT_IDENTITY.test(k)).map(([k, v]) => [k, v.value]));

const SOURCES = {
  qwen3: { file: 'arch/qwen3.gguf', hfArch: 'Qwen3ForCausalLM' },
  qwen3moe: {
    file: 'arch/qwen3moe.gguf',
    hfArch: 'Qwen3MoeForCausalLM',
    config: (g) => ({
      num_experts: g.kv.get('qwen3moe.expert_count').value,
      num_experts_per_tok: g.kv.get('qwen3moe.expert_used_count').value,
      moe_intermediate_size: g.kv.get('qwen3moe.expert_feed_forward_length').value,
      norm_topk_prob: true,
    }),
  },
};

let n = 0;
// Writes a checkpoint folder named name from source src with README.md text readme (or none)
// and config.json's _name_or_path; converts it; returns { dir, src, out, stderr }.
function convertFolder(name, { src = 'qwen3', readme, nameOrPath, args = [] } = {}) {
  requireModels();
  const s = SOURCES[src];
  const dir = join(tmp, String(n++), name);
  const g = readGguf(readFileSync(join(modelsDir(), s.file)));
  writeHf(g, dir, { hfArch: s.hfArch, config: { ...s.config?.(g), ...(nameOrPath === undefined ? {} : { _name_or_path: nameOrPath }) } });
  if (readme !== undefined) writeFileSync(join(dir, 'README.md'), readme);
  const out = `${dir}.gguf`;
  const r = spawnSync(kiteBin(), ['convert', ...args, dir, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { dir, src: join(modelsDir(), s.file), out, stderr: r.stderr };
}

const CARD = `---
license: apache-2.0
license_name: qwen-research
license_link: https://huggingface.co/Qwen/Qwen3-8B/blob/main/LICENSE
language:
- en
- zh
- "no"
pipeline_tag: text-generation
tags:
  - chat
  - 'qwen'   # a comment
base_model:
- Qwen/Qwen3-8B-Base
- https://huggingface.co/meta-llama/Llama-3.1-8B
- name: My Merge
  organization: Someone
datasets: [HuggingFaceTB/smollm-corpus, "https://example.com/data"]
model-index:
- name: x
  results:
  - task: {type: text-generation}
widget:
  - text: |
      Hello
---
# The model

Text.
`;

const CASES = [
  // name heuristics of the folder's name (size label, finetune, version)
  ['a folder named like a model id', 'SmolLM2-135M-Instruct', {}],
  ['a version and a context-length label', 'Qwen2.5-7B-Instruct-1M-v0.3', {}],
  ['bloom-style size, quant type', 'bloom-7b1-q8_0-chat', {}],
  ['word size labels under a numeric one', 'Phi-3-mini-4k-instruct', {}],
  ['a plain name (size label from the parameter count)', 'qwen3', {}],
  ['a name with spaces', 'My Model 7B', {}],
  // config.json's _name_or_path before the folder, a path not
  ['_name_or_path', 'checkpoint-500', { nameOrPath: 'meta-llama/Llama-3.2-1B-Instruct' }],
  ['a path in _name_or_path', 'Mistral-7B-v0.1', { nameOrPath: '/home/me/models/x/y' }],
  // the model card: license, tags, languages, base models (ids, addresses, mappings), data sets
  ['a model card', 'Qwen3-0.6B', { readme: CARD }],
  ['a card naming the model', 'folder', { readme: '---\nmodel_name: Card Name\nmodel_creator: Someone\nversion: "2.0"\nlicense: [mit, apache-2.0]\n---\n' }],
  ['a card without front matter', 'Llama-3-8B', { readme: '# Llama 3\n---\nlicense: mit\n' }],
  ['an empty base_model', 'x-1B', { readme: '---\r\nbase_model:\r\ndatasets: []\r\ntags: []\r\n---\r\n' }],
  // the expert form of the size label
  ['a MoE (experts x size)', 'tiny-moe', { src: 'qwen3moe' }],
  ['a MoE named with its size', 'Qwen3-30B-A3B-Instruct-2507', { src: 'qwen3moe' }],
  // --model-name: general.name over the heuristics' (llama.cpp's --model-name)
  ['--model-name', 'SmolLM2-135M-Instruct', { args: ['--model-name', 'My Name'] }],
];

// Every case converted, and llama.cpp's keys for each (one python run for all).
let done;
function converted() {
  if (!done) {
    const got = CASES.map(([, name, opts]) => convertFolder(name, opts));
    const tensors = {};
    for (const c of got) tensors[c.src] ??= readGguf(readFileSync(c.src)).tensors.map((t) => [t.name, t.ne.map(Number)]);
    const want = llamaKeys(got.map((c, i) => [c.dir, tensors[c.src], CASES[i][2].args?.[1] ?? null]));
    done = got.map((c, i) => ({ got: identity(c.out), want: want[i] }));
  }
  return done;
}

CASES.forEach(([what, name], i) => {
  test(`kite convert: identity keys as llama.cpp's converter writes them: ${what} (${name})`, { skip: noRef }, () => {
    const { got, want } = converted()[i];
    assert.deepEqual(got, want);
  });
});

// Printed by llama_metadata.py (pinned llama.cpp) for these folders: the size label from the
// parameter count (Python's rounding, two significant digits) and the expert form.
test('kite convert: size labels from the parameter count, dense and MoE', () => {
  assert.equal(identity(convertFolder('qwen3').out)['general.size_label'], '10M');
  assert.equal(identity(convertFolder('tiny-moe', { src: 'qwen3moe' }).out)['general.size_label'], '8x3.3M');
  const got = identity(convertFolder('SmolLM2-135M-Instruct').out);
  assert.equal(got['general.name'], 'SmolLM2 135M Instruct');
  assert.equal(got['general.basename'], 'SmolLM2');
  assert.equal(got['general.finetune'], '135m-Instruct'); // 135M is far from the model's 10M: a context length
});

test('kite convert: a model card entry outside the YAML subset is a warning, not a failure', () => {
  const c = convertFolder('Qwen3-0.6B', { readme: '---\nlicense: >\n  folded\ntags: {a: b}\nlanguage:\n- en\n---\n' });
  assert.match(c.stderr, /warning: README\.md: the model card's "license" \(line 2\) is not in the YAML subset/);
  assert.match(c.stderr, /warning: README\.md: the model card's "tags" \(line 4\)/);
  const got = identity(c.out);
  assert.equal(got['general.license'], undefined);
  assert.deepEqual(got['general.languages'], ['en']);
});
