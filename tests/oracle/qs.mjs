// The qs oracle: node qs.mjs NODE_MODULES_DIR. Each stdin line is a JSON string (a raw query string,
// without the "?"); each stdout line is a JSON string holding JSON.stringify(qs.parse(query)) with
// qs's default options, in input order.
import { createRequire } from 'node:module';
import path from 'node:path';
import { readFileSync } from 'node:fs';

const require = createRequire(path.join(path.resolve(process.argv[2]), 'qs-resolver.cjs'));
const qs = require('qs');
const queries = readFileSync(0, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
process.stdout.write(queries.map((query) => `${JSON.stringify(JSON.stringify(qs.parse(query)))}\n`).join(''));
