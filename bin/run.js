#!/usr/bin/env node
// dist/ayb.js is the whole CLI in one file, built by `npm run build` (src/cli.ts, src/build/bundle.ts).
import { execute } from '../dist/ayb.js';

await execute({ dir: import.meta.url });
