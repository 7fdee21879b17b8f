// think.js - splits a streamed reply into its reasoning block (<think>...</think>, as Qwen3 and
// DeepSeek-R1 write it) and its answer: the same rules as src/chat/chat_think.c (the tags and
// the newlines right after </think> belong to neither; a possible tag prefix is held back).
const OPEN = '<think>';
const CLOSE = '</think>';

export class ThinkSplit {
  thinking = false;
  #afterClose = false;
  #held = '';

  // Feeds a piece; returns the runs it decides, [{ text, thinking }] in order.
  feed(piece) {
    const runs = [];
    let run = '';
    const push = (text) => {
      if (!text) return;
      const last = runs[runs.length - 1];
      if (last && last.thinking === this.thinking) last.text += text;
      else runs.push({ text, thinking: this.thinking });
    };
    for (const ch of piece) {
      if (this.#afterClose) {
        if (ch === '\n') continue;
        this.#afterClose = false;
      }
      const tag = this.thinking ? CLOSE : OPEN;
      if (ch === tag[this.#held.length]) {
        push(run);
        run = '';
        this.#held += ch;
        if (this.#held.length === tag.length) {
          this.#held = '';
          this.#afterClose = this.thinking;
          this.thinking = !this.thinking;
        }
        continue;
      }
      if (this.#held) {
        run += this.#held;
        this.#held = '';
        if (ch === tag[0]) {
          push(run);
          run = '';
          this.#held = ch;
          continue;
        }
      }
      run += ch;
    }
    push(run);
    return runs;
  }

  // The held bytes (a tag prefix the reply ended in) as a final run, or [].
  flush() {
    const text = this.#held;
    this.#held = '';
    return text ? [{ text, thinking: this.thinking }] : [];
  }
}
