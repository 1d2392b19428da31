// Generated at build time by test/extension/build.mjs: every test/extension/*.test.ts.
declare module 'virtual:extension-test-files' {
  const files: ReadonlyArray<{ readonly file: string; readonly load: () => unknown }>;
  export = files;
}
