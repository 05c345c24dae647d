// The ajv oracle: validates JSON texts exactly as Rocket.Chat 8.8.1 does.
//
//   node oracle.mjs --package DIR --node-modules DIR [--dump]
//
// DIR of --package is an extracted `@rocket.chat/rest-typings@8.8.1` tarball (its `package/` folder),
// --node-modules holds ajv 8.20.0 and ajv-formats 3.0.1. Nothing here is hand-copied from the server:
// the request schemas (the trigger POST body and list query, the two external-service bodies) are read out of `dist/v1/omnichannel.js`, the instance that compiles each of
// them (`ajv` or `ajvQuery`) is read from the `<instance>.compile(<schema>)` call next to it, and that
// instance's option object is read out of `dist/v1/Ajv.js`. Each object literal is evaluated with `vm`.
//
// Protocol (JSON Lines): each stdin line is {"id": any, "schema": "post"|"query"|"webhook-test"|
// "webhook-call"|"parse", "text": "..."}.
// `text` is JSON.parse'd (so both sides parse the very same text), validated (ajv coerces the data in
// place) and answered with one stdout line, in request order:
//   {"id", "valid", "messages": [error.message...], "errors": [{instancePath, schemaPath, keyword,
//    message}...], "data": JSON.stringify(mutated data)}
// or, when JSON.parse throws, {"id", "parseError": "<message>"}. "parse" only parses and stringifies.
// A line that is not a request at all answers {"id": null, "protocolError": "..."}.
// With --dump it prints {"versions", "instances", "options", "schemas"} once and exits.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

const EXPECTED = { '@rocket.chat/rest-typings': '8.8.1', ajv: '8.20.0', 'ajv-formats': '3.0.1' };
const SCHEMAS = {
  post: 'POSTLivechatTriggersParamsSchema',
  query: 'GETLivechatTriggersParamsSchema',
  'webhook-test': 'LivechatTriggerWebhookTestParamsSchema',
  'webhook-call': 'LivechatTriggerWebhookCallParamsSchema',
};

function die(message) {
  process.stderr.write(`oracle: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { dump: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--dump') args.dump = true;
    else if (arg === '--package' || arg === '--node-modules') {
      if (i + 1 >= argv.length) die(`${arg} needs a directory`);
      args[arg.slice(2)] = argv[(i += 1)];
    } else die(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (!args.package || !args['node-modules']) die('usage: oracle.mjs --package DIR --node-modules DIR [--dump]');
  return args;
}

// Index just past the balanced {...} (or (...)/[...]) that starts at `start`; skips strings,
// template literals and comments so that braces inside them do not count.
function balancedEnd(source, start) {
  const closing = { '{': '}', '(': ')', '[': ']' };
  const stack = [];
  let i = start;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '"' || ch === "'" || ch === '`') {
      i += 1;
      while (i < source.length && source[i] !== ch) i += source[i] === '\\' ? 2 : 1;
      if (i >= source.length) break;
    } else if (ch === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      i = end === -1 ? source.length : end;
    } else if (ch === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) break;
      i = end + 1;
    } else if (closing[ch]) {
      stack.push(closing[ch]);
    } else if (ch === '}' || ch === ')' || ch === ']') {
      if (stack.pop() !== ch) throw new Error(`unbalanced ${ch} at offset ${i}`);
      if (stack.length === 0) return i + 1;
    }
    i += 1;
  }
  throw new Error(`no balanced literal from offset ${start}`);
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The object literal that follows `prefixPattern` (a regexp source), exactly one occurrence.
function objectLiteralAfter(source, prefixPattern, what, file) {
  const matches = [...source.matchAll(new RegExp(prefixPattern, 'g'))];
  if (matches.length !== 1) throw new Error(`${file}: expected exactly one ${what}, found ${matches.length}`);
  let start = matches[0].index + matches[0][0].length;
  while (/\s/.test(source[start])) start += 1;
  if (source[start] !== '{') throw new Error(`${file}: ${what} is not followed by an object literal`);
  const literal = source.slice(start, balancedEnd(source, start));
  // Evaluated in this realm so that ajv sees ordinary Objects and Arrays.
  return vm.runInThisContext(`(${literal})`, { filename: `${file}:${what}` });
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function load(args) {
  const packageDir = path.resolve(args.package);
  const nodeModules = path.resolve(args['node-modules']);
  const require = createRequire(path.join(nodeModules, 'oracle-resolver.cjs'));
  const versions = {
    '@rocket.chat/rest-typings': readJson(path.join(packageDir, 'package.json')).version,
    ajv: require('ajv/package.json').version,
    'ajv-formats': require('ajv-formats/package.json').version,
  };
  for (const [name, version] of Object.entries(EXPECTED)) {
    if (versions[name] !== version) throw new Error(`${name} is ${versions[name]}, the oracle needs ${version}`);
  }
  const typingsFile = path.join(packageDir, 'dist', 'v1', 'omnichannel.js');
  const ajvFile = path.join(packageDir, 'dist', 'v1', 'Ajv.js');
  const typings = readFileSync(typingsFile, 'utf8');
  const ajvSource = readFileSync(ajvFile, 'utf8');
  if (!/import\s+Ajv\s+from\s+'ajv\/dist\/2020'/.test(ajvSource)) throw new Error(`${ajvFile} no longer imports ajv/dist/2020`);
  if (!/import\s+addFormats\s+from\s+'ajv-formats'/.test(ajvSource)) throw new Error(`${ajvFile} no longer imports ajv-formats`);

  const ajvModule = require('ajv/dist/2020');
  const Ajv = ajvModule.default ?? ajvModule;
  const formatsModule = require('ajv-formats');
  const addFormats = formatsModule.default ?? formatsModule;

  const built = new Map();
  const result = { versions, instances: {}, options: {}, schemas: {}, validators: {} };
  for (const [key, name] of Object.entries(SCHEMAS)) {
    const schema = objectLiteralAfter(typings, `(?:^|[\\s;])(?:const|let|var)\\s+${escapeRegExp(name)}\\s*=\\s*`, `const ${name}`, typingsFile);
    const compiles = [...typings.matchAll(new RegExp(`\\b(\\w+)\\.compile\\(\\s*${escapeRegExp(name)}\\s*\\)`, 'g'))];
    if (compiles.length !== 1) throw new Error(`${typingsFile}: expected one <instance>.compile(${name}), found ${compiles.length}`);
    const instance = compiles[0][1];
    if (!built.has(instance)) {
      const options = objectLiteralAfter(ajvSource, `(?:^|[\\s;])const\\s+${escapeRegExp(instance)}\\s*=\\s*new\\s+Ajv\\(`, `const ${instance} = new Ajv(`, ajvFile);
      // Only the options object is read; the custom formats/keywords of Ajv.js are not registered, so a
      // schema that starts using them fails to compile here (strict mode) instead of validating wrongly.
      const ajv = new Ajv(structuredClone(options));
      addFormats(ajv);
      built.set(instance, { ajv, options });
    }
    const { ajv, options } = built.get(instance);
    result.instances[key] = instance;
    result.options[key] = options;
    result.schemas[key] = structuredClone(schema);
    result.validators[key] = ajv.compile(schema);
  }
  return result;
}

function answer(request, oracle) {
  if (request === null || typeof request !== 'object' || typeof request.text !== 'string') {
    return { id: request?.id ?? null, protocolError: 'a request needs a string "text"' };
  }
  const { id, schema, text } = request;
  if (schema !== 'parse' && !Object.hasOwn(oracle.validators, schema)) {
    return { id, protocolError: `unknown schema ${JSON.stringify(schema)}` };
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { id, parseError: String(error.message) };
  }
  if (schema === 'parse') return { id, valid: true, messages: [], errors: [], data: JSON.stringify(data) };
  const validate = oracle.validators[schema];
  const valid = validate(data);
  const errors = (validate.errors ?? []).map(({ instancePath, schemaPath, keyword, message }) => ({ instancePath, schemaPath, keyword, message }));
  return { id, valid, messages: errors.map((error) => error.message), errors, data: JSON.stringify(data) };
}

function serve(oracle) {
  let pending = '';
  const handleLines = (lines) => {
    const out = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      let reply;
      try {
        reply = answer(JSON.parse(line), oracle);
      } catch (error) {
        reply = { id: null, protocolError: `bad request line: ${error.message}` };
      }
      out.push(JSON.stringify(reply));
    }
    if (out.length) process.stdout.write(`${out.join('\n')}\n`);
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    handleLines(lines);
  });
  process.stdin.on('end', () => handleLines([pending]));
}

const args = parseArgs(process.argv.slice(2));
let oracle;
try {
  oracle = load(args);
} catch (error) {
  die(error.message);
}
if (args.dump) {
  const { versions, instances, options, schemas } = oracle;
  process.stdout.write(`${JSON.stringify({ versions, instances, options, schemas })}\n`);
} else {
  process.stdout.write(`${JSON.stringify({ ready: true, versions: oracle.versions, instances: oracle.instances })}\n`);
  serve(oracle);
}
