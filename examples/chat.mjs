// chat.mjs - an interactive chat in the terminal, using the model's own chat template.
//   node examples/chat.mjs [MODEL]
// MODEL: a path, URL or hf://owner/repo/file.gguf (default: the built-in models/stories260K.gguf,
// which is a story model, so expect stories). Type a message, Enter to send; Ctrl-D to quit.
// Piped input works too: echo "Hello" | node examples/chat.mjs
import { createInterface } from 'node:readline';
import { loadModel, builtinModel } from '../web/index.js';

const source = process.argv[2] || builtinModel;
const model = await loadModel(source);
const messages = [];
const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY });
const ask = () => process.stdin.isTTY && process.stdout.write('> ');
ask();
for await (const line of rl) {
  if (!line.trim()) { ask(); continue; }
  messages.push({ role: 'user', content: line });
  let reply = '';
  // The whole conversation is formatted again each turn: simple and always consistent.
  for await (const piece of model.chat(messages, { maxTokens: 128, temperature: 0.7, seed: 1 })) {
    process.stdout.write(piece);
    reply += piece;
  }
  process.stdout.write('\n');
  messages.push({ role: 'assistant', content: reply });
  ask();
}
await model.dispose();
