// tap's node-arg: `npm test` runs the compiled tests (dist/test/**/*.test.js) with no loader;
// a test named by its source (`npx tap test/x.test.ts`) is loaded through tsx, as before.
// Only then: a loader hook costs each test process about 0.2 s of CPU.
if (process.argv[1]?.endsWith('.ts')) await import('tsx')
