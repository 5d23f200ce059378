module.exports = async () => {
  if (!process.env.TEST_DATABASE_URL) {
    process.stderr.write(
      '\n[npm test] TEST_DATABASE_URL is not set: PostgreSQL tests are SKIPPED; only PGlite is exercised.\n' +
        '           Run with TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (as .ci/run does) to include them.\n\n',
    );
  }
};
