// args.mjs - the command line of a bench script: options are taken out of the argument list as
// they are read, so that what is left once they all are (the model files) stays in `args`.
export function benchArgs(argv = process.argv.slice(2)) {
  const args = [...argv];
  // `name VALUE`: the value (a string), or def where the option is absent
  const opt = (name, def) => {
    const i = args.indexOf(name);
    if (i < 0) return def;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  // `name N`: opt's value as a number (def as given where absent)
  const num = (name, def) => {
    const v = opt(name, undefined);
    return v === undefined ? def : Number(v);
  };
  // `name` alone: whether it was there
  const flag = (name) => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  return { args, opt, num, flag };
}
