// For the programs' entries (clients/upk/main.ts): whether to run a program's one-file build. Not part
// of the library's API (index.ts); the one definition is schema/fresh-bundle.ts, shared with the controller.
export { freshBundle } from '../schema/fresh-bundle.js';
